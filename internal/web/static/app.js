// backapp: progressive enhancement only. Every page works without this file.
"use strict";

// Destructive actions link to a confirmation page; where the browser supports
// <dialog>, confirm in place instead. The link names its dialog in data-dialog.
document.addEventListener("click", function (event) {
  var link = event.target.closest ? event.target.closest("a[data-dialog]") : null;
  if (!link) {
    return;
  }
  var dialog = document.getElementById(link.getAttribute("data-dialog"));
  if (!dialog || typeof dialog.showModal !== "function") {
    return; // follow the link to the confirmation page
  }
  event.preventDefault();
  dialog.showModal();
});

// Commands to copy (pre.command) get a Copy button; without JavaScript the text is
// selectable as it is.
document.querySelectorAll("pre.command").forEach(function (pre, i) {
  if (!navigator.clipboard) {
    return;
  }
  var button = document.createElement("button");
  button.type = "button";
  button.className = "button small copy";
  button.textContent = "Copy";
  var label = pre.getAttribute("aria-labelledby");
  var named = label && document.getElementById(label);
  button.setAttribute("aria-label", "Copy" + (named ? ": " + named.textContent.trim() : " the command"));
  var status = document.createElement("span");
  status.setAttribute("role", "status");
  status.className = "muted";
  button.addEventListener("click", function () {
    navigator.clipboard.writeText(pre.textContent.trim()).then(function () {
      status.textContent = " Copied.";
    }, function () {
      status.textContent = " Copying failed: select the text instead.";
    });
  });
  var row = document.createElement("p");
  row.appendChild(button);
  row.appendChild(status);
  pre.insertAdjacentElement("afterend", row);
});
