// The console's one script. Pages work without it; it only makes them live.
"use strict";

// --- Trail: rows appended to the trail arrive over server-sent events and go on top. ---
(function () {
  var rows = document.getElementById("trail-rows");
  if (!rows || !rows.dataset.stream || !window.EventSource) {
    return;
  }
  var status = document.getElementById("trail-live");
  var say = function (text) {
    if (status) {
      status.textContent = text;
    }
  };
  var source = new EventSource(rows.dataset.stream);
  source.addEventListener("row", function (event) {
    var data;
    try {
      data = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    var id = Number(data.id);
    if (!id || rows.querySelector('tr[data-entry-id="' + id + '"]')) {
      return;
    }
    // The outcome of a call stands for it: its pending row goes.
    if (data.completes !== null && data.completes !== undefined) {
      var pending = rows.querySelector('tr[data-entry-id="' + Number(data.completes) + '"]');
      if (pending) {
        pending.remove();
      }
    }
    // The row is rendered (and escaped) on the server by the page's own template.
    var holder = document.createElement("template");
    holder.innerHTML = String(data.html).trim();
    var row = holder.content.firstElementChild;
    if (!row) {
      return;
    }
    row.classList.add("fresh");
    rows.insertBefore(row, rows.firstChild);
    var empty = document.getElementById("trail-empty");
    if (empty) {
      empty.remove();
    }
    while (rows.rows.length > 500) {
      rows.deleteRow(-1);
    }
    say("New row " + id + " added at the top.");
  });
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED) {
      say("Live updates stopped; reload the page to see new rows.");
    }
  });
})();

// --- Live: the page reloads its figures and events every few seconds while shown. ---
(function () {
  var live = document.getElementById("live");
  if (!live || !live.dataset.refresh || !window.fetch || !window.DOMParser) {
    return;
  }
  var every = Math.max(2000, Number(live.dataset.refresh) || 5000);
  window.setInterval(function () {
    if (document.hidden) {
      return;
    }
    fetch(window.location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (!html) {
          return;
        }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
        if (fresh) {
          live.innerHTML = fresh.innerHTML;
        }
      })
      .catch(function () {});
  }, every);
})();
