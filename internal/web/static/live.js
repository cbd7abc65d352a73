// backapp: a run's or a restore's page follows it live while it is queued or
// running, from the server's event stream (GET /api/events), re-rendering the parts
// of the page the server marks. Without this file (or without EventSource) the page
// works the same: its state is server-rendered and it has a Refresh link.
"use strict";

(function () {
  var region = document.querySelector("[data-live]");
  if (!region) {
    return;
  }
  var kind = region.getAttribute("data-live"); // "run" or "restore": the events' prefix
  var id = region.getAttribute("data-live-id");
  var parts = (region.getAttribute("data-live-parts") || "").split(" ").filter(Boolean);
  var stream = null;
  var busy = false;
  var again = false;
  var timer = null;
  var last = 0;
  var progressEvery = 1000; // at most one re-render a second for progress

  // refresh takes the server-rendered page and swaps in the marked parts. The live
  // region is replaced only when its words change, so screen readers announce
  // state changes, not every byte count in the other parts.
  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    last = Date.now();
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById(region.id);
        if (fresh && fresh.innerHTML !== region.innerHTML) {
          region.innerHTML = fresh.innerHTML;
        }
        parts.forEach(function (pid) {
          var old = document.getElementById(pid);
          var now = doc.getElementById(pid);
          if (old && now) {
            old.replaceWith(now);
          } else if (old) {
            old.remove();
          }
        });
        if (fresh && !fresh.hasAttribute("data-live")) {
          stop(); // finished: nothing more will move
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          schedule(false);
        }
      });
  }

  function schedule(now) {
    if (!region.hasAttribute("data-live")) {
      return; // finished: the shared stream may still carry events
    }
    if (timer) {
      if (!now) {
        return;
      }
      window.clearTimeout(timer);
    }
    var wait = now ? 0 : Math.max(0, progressEvery - (Date.now() - last));
    timer = window.setTimeout(function () { timer = null; refresh(); }, wait);
  }

  function stop() {
    if (stream && !shared) {
      stream.close();
    }
    stream = null;
    if (timer) {
      window.clearTimeout(timer);
      timer = null;
    }
    region.removeAttribute("data-live");
  }

  function poll() {
    refresh();
    if (region.hasAttribute("data-live")) {
      window.setTimeout(poll, 3000);
    }
  }

  if (typeof window.EventSource !== "function") {
    window.setTimeout(poll, 3000);
    return;
  }
  // The page's shared stream (app.js), so the navigation's alert count and this
  // page use one connection.
  var shared = typeof window.backappEvents === "function";
  stream = shared ? window.backappEvents() : new EventSource("/api/events");
  function mine(e) {
    try {
      return id === "*" || JSON.parse(e.data)[kind + "Id"] === id; // "*": any (the dashboard)
    } catch (err) {
      return false;
    }
  }
  stream.addEventListener(kind + ".status", function (e) { if (mine(e)) { schedule(true); } });
  stream.addEventListener(kind + ".progress", function (e) { if (mine(e)) { schedule(false); } });
  // Events were missed (reconnected too late, or the server lost them): re-read.
  stream.addEventListener("reset", function () { schedule(true); });
  stream.addEventListener("open", function () { schedule(true); }); // what moved while we connected
  stream.addEventListener("error", function () {
    if (stream && stream.readyState === EventSource.CLOSED) { // signed out, or no stream here
      stream = null;
      window.setTimeout(poll, 3000);
    }
  });
})();
