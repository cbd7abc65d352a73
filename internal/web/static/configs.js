// backapp: the configuration form's live schedule preview. The form works without
// it: "Show next runs" asks the server for the same list.
"use strict";

(function () {
  var cron = document.getElementById("config-schedule.cronExpression");
  var tz = document.getElementById("config-schedule.timezone");
  var out = document.getElementById("config-preview");
  if (!cron || !tz || !out || !window.fetch) {
    return;
  }
  var timer = null;
  var seq = 0;

  function show(help, items) {
    while (out.firstChild) {
      out.removeChild(out.firstChild);
    }
    var p = document.createElement("p");
    p.className = "help";
    p.textContent = help;
    out.appendChild(p);
    if (items && items.length) {
      var ol = document.createElement("ol");
      items.forEach(function (text) {
        var li = document.createElement("li");
        li.textContent = text;
        ol.appendChild(li);
      });
      out.appendChild(ol);
    }
  }

  function update() {
    var expr = cron.value.trim();
    if (expr === "") {
      show("Manual only: no schedule.");
      return;
    }
    var mine = ++seq;
    var url = "/api/schedule/preview?cron=" + encodeURIComponent(expr) + "&timezone=" + encodeURIComponent(tz.value.trim());
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (res) { return res.json(); })
      .then(function (body) {
        if (mine !== seq) {
          return; // a later keystroke already asked again
        }
        if (body.error) {
          var f = body.error.fields || {};
          show(f.cronExpression || f.timezone || body.error.message);
          return;
        }
        show(body.description, body.nextRuns.map(function (r) { return r.text; }));
      })
      .catch(function () { /* keep the last preview; "Show next runs" still works */ });
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  }
  cron.addEventListener("input", later);
  tz.addEventListener("input", later);
})();
