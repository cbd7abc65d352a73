// backapp: a restore's page follows the restore while it is queued or running.
// Without this file the page has a Refresh link and works the same.
"use strict";

(function () {
  var region = document.getElementById("restore-status");
  if (!region || !region.hasAttribute("data-poll")) {
    return;
  }
  var api = region.getAttribute("data-poll");
  var status = region.getAttribute("data-status");
  var cancelRequested = region.getAttribute("data-cancel") === "true";
  var written = -1; // files written, as last shown
  var finished = { completed: true, failed: true, cancelled: true };

  function refresh() {
    // Take the server-rendered status and actions, so the words stay the page's own;
    // replacing the live region's content makes screen readers announce it.
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("restore-status");
        if (fresh) {
          region.innerHTML = fresh.innerHTML;
        }
        ["restore-actions", "restore-facts"].forEach(function (id) {
          var old = document.getElementById(id);
          var now = doc.getElementById(id);
          if (old && now) {
            old.replaceWith(now);
          } else if (old) {
            old.remove();
          }
        });
      })
      .catch(function () {});
  }

  function poll() {
    fetch(api, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (x) {
        if (x.status !== status || x.cancelRequested !== cancelRequested || (written >= 0 && x.filesWritten !== written)) {
          status = x.status;
          cancelRequested = x.cancelRequested;
          refresh();
        }
        written = x.filesWritten;
        if (!finished[status]) {
          window.setTimeout(poll, 2000);
        }
      })
      .catch(function () { window.setTimeout(poll, 10000); });
  }
  window.setTimeout(poll, 2000);
})();
