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

// The open-alert counts (navigation, Menu button) follow the event stream: any alert event
// re-reads the count (GET /api/alerts?limit=1 answers it as "open"). Without
// EventSource the count is as of the page load.
// backappEvents is the page's one connection to GET /api/events, shared by every
// script that follows it (a browser allows few connections per server).
var backappEvents = (function () {
  var shared = null;
  return function () {
    if (!shared && typeof window.EventSource === "function") {
      shared = new EventSource("/api/events");
    }
    return shared;
  };
})();

(function () {
  // The count beside Alerts in the navigation, and beside the Menu button on phones
  // (seen while the menu is closed).
  var badges = document.querySelectorAll("[data-alert-count]");
  if (!badges.length || typeof window.EventSource !== "function") {
    return;
  }
  var pending = false;
  function show(n) {
    badges.forEach(function (badge) {
      badge.setAttribute("data-alert-count", String(n));
      badge.hidden = n === 0;
      badge.firstElementChild.textContent = String(n);
      var label = badge.getAttribute("data-alert-label").split("|"); // singular|plural
      badge.lastElementChild.textContent = " (" + n + " " + (n === 1 ? label[0] : label[label.length - 1]) + ")";
    });
  }
  function reload() {
    if (pending) {
      return;
    }
    pending = true;
    fetch("/api/alerts?state=open&limit=1", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (b) { show(b.open); })
      .catch(function () {})
      .then(function () { pending = false; });
  }
  var stream = backappEvents();
  ["alert.new", "alert.resolved", "alert.acknowledged", "reset"].forEach(function (t) {
    stream.addEventListener(t, reload);
  });
})();

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

// The navigation is a <details> that wide screens show open through CSS
// (::details-content). A browser without that selector gets it opened here instead,
// on wide screens only; on phones it stays a Menu button.
(function () {
  var menu = document.getElementById("navmenu");
  if (!menu || !window.CSS || !CSS.supports || CSS.supports("selector(::details-content)")) {
    return;
  }
  var wide = window.matchMedia("(min-width: 48.01rem)");
  function follow() { menu.open = wide.matches; }
  follow();
  if (wide.addEventListener) {
    wide.addEventListener("change", follow);
  }
})();
