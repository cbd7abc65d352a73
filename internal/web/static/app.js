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
