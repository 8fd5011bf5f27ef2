// wampnode dashboard: reads <path>/data every `interval` seconds and draws it.
// Served by the node itself (no CDN). Numbers are written with textContent only.
// When the node refuses the data or cannot be reached, every number is blanked and the
// status line says why: the page never shows stale numbers.
(function () {
  "use strict";

  var history = [];      // [{t, sessions, messages, errors}], the last `horizon` seconds
  var previous = null;   // the last snapshot, for rates
  var interval = 2;      // seconds; the node's `interval` replaces it
  var horizon = 300;     // seconds of history; the node's `history` replaces it
  var DASH = "\u2014";

  function $(id) { return document.getElementById(id); }

  function setText(id, value) { var el = $(id); if (el) { el.textContent = value; } }

  function number(n) {
    if (typeof n !== "number" || !isFinite(n)) { return DASH; }
    return Math.round(n).toLocaleString("en-US");
  }

  function rate(n) {
    if (typeof n !== "number" || !isFinite(n)) { return DASH; }
    return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1);
  }

  function bytes(n) {
    if (typeof n !== "number") { return DASH; }
    var units = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
  }

  function duration(seconds) {
    if (typeof seconds !== "number") { return DASH; }
    var s = Math.abs(seconds), sign = seconds < 0 ? "-" : "";
    if (s >= 86400) { return sign + Math.floor(s / 86400) + " d"; }
    if (s >= 3600) { return sign + Math.floor(s / 3600) + " h"; }
    if (s >= 60) { return sign + Math.floor(s / 60) + " min"; }
    return sign + Math.round(s) + " s";
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) { td.className = className; }
    row.appendChild(td);
    return td;
  }

  function uriList(td, entries, countKey, hitsKey) {
    if (!entries || !entries.length) { td.textContent = DASH; return; }
    var ul = document.createElement("ul");
    ul.className = "uris";
    entries.forEach(function (e) {
      var li = document.createElement("li");
      li.textContent = e.uri + (e.match && e.match !== "exact" ? " (" + e.match + ")" : "") + ": " +
        number(e[hitsKey]) + ", " + number(e[countKey]) + " " + countKey;
      ul.appendChild(li);
    });
    td.appendChild(ul);
  }

  function replaceRows(id, rows) {
    var body = $(id);
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (row) { body.appendChild(row); });
  }

  var SVG = "http://www.w3.org/2000/svg";

  function chart(id, key) {
    var svg = $(id);
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    if (history.length < 2) { return; }
    var now = history[history.length - 1].t, max = 0;
    history.forEach(function (p) { if (p[key] > max) { max = p[key]; } });
    var top = max > 0 ? max * 1.15 : 1;
    var points = history.map(function (p) {
      var x = 300 - (now - p.t) / horizon * 300;
      var y = 78 - (p[key] / top) * 72;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    var line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.appendChild(line);
    var label = document.createElementNS(SVG, "text");
    label.setAttribute("x", "3");
    label.setAttribute("y", "10");
    label.textContent = "max " + rate(max);
    svg.appendChild(label);
  }

  function show(data) {
    interval = data.interval || interval;
    horizon = data.history || horizon;
    var t = data.totals;
    var messages = NaN, errors = NaN;
    if (previous && data.time > previous.time) {
      var dt = data.time - previous.time;
      messages = Math.max(0, (t.received + t.sent - previous.totals.received - previous.totals.sent) / dt);
      errors = Math.max(0, (t.errors - previous.totals.errors) / dt);
    }
    previous = data;
    if (isFinite(messages)) {
      history.push({t: data.time, sessions: t.sessions, messages: messages, errors: errors});
    }
    while (history.length && history[0].t < data.time - horizon) { history.shift(); }

    document.body.setAttribute("data-state", "live");
    var status = $("status");
    status.className = "live";
    status.textContent = "live \u2014 updated " + new Date(data.time * 1000).toLocaleTimeString();
    setText("version", data.node.version);
    setText("uptime", "up " + duration(data.node.uptime_seconds));
    setText("sessions", number(t.sessions));
    setText("message-rate", rate(messages));
    setText("error-rate", rate(errors));
    ["received", "sent", "errors", "publications", "events", "calls"].forEach(function (k) { setText(k, number(t[k])); });
    setText("call-errors", number(t.call_errors));
    setText("chart-span", "Charts: the last " + duration(horizon) + ", one point every " + interval + " s.");
    chart("chart-sessions", "sessions");
    chart("chart-messages", "messages");
    chart("chart-errors", "errors");

    replaceRows("realms", data.realms.map(function (r) {
      var row = document.createElement("tr");
      row.setAttribute("data-realm", r.name);
      cell(row, r.name);
      cell(row, number(r.sessions), "sessions");
      cell(row, number(r.subscriptions), "subscriptions");
      cell(row, number(r.registrations), "registrations");
      uriList(cell(row, "", "topics"), r.topics, "subscribers", "publications");
      uriList(cell(row, "", "procedures"), r.procedures, "callees", "calls");
      return row;
    }));

    replaceRows("transports", data.transports.map(function (tr) {
      var row = document.createElement("tr");
      row.setAttribute("data-transport", tr.id);
      cell(row, tr.id);
      cell(row, tr.endpoint + (tr.tls ? " (TLS)" : ""));
      cell(row, number(tr.connections), "connections");
      cell(row, bytes(tr.bytes_received));
      cell(row, bytes(tr.bytes_sent));
      var certs = tr.certificates.map(function (c) {
        return c.name + ": " + c.subject + ", expires " + c.not_after + " (in " + duration(c.seconds_left) + ")";
      });
      var td = cell(row, certs.length ? certs.join("; ") : (tr.tls ? DASH : "no TLS"), "certificates");
      if (tr.certificates.some(function (c) { return c.seconds_left < 14 * 86400; })) { td.className += " warn"; }
      return row;
    }));

    var processes = data.processes || [];
    $("processes-section").hidden = processes.length < 2;
    replaceRows("processes", processes.map(function (p) {
      var row = document.createElement("tr");
      row.setAttribute("data-process", p.process);
      cell(row, p.process);
      if (!p.answered) {
        cell(row, "no answer", "warn").colSpan = 5;
        return row;
      }
      cell(row, String(p.pid));
      cell(row, number(p.sessions), "sessions");
      cell(row, typeof p.cpu_seconds === "number" ? p.cpu_seconds.toFixed(1) : DASH);
      cell(row, p.rss_bytes ? bytes(p.rss_bytes) : DASH);
      cell(row, duration(p.uptime_seconds));
      return row;
    }));
  }

  // The node refused the data (state "refused") or could not be reached ("unreachable"):
  // say so, and blank every number and chart so nothing stale stays on screen.
  function fail(state, text) {
    previous = null;
    history = [];
    document.body.setAttribute("data-state", state);
    var status = $("status");
    status.className = state;
    status.textContent = text + " \u2014 the numbers below are cleared until the node answers again (" +
      new Date().toLocaleTimeString() + ")";
    ["sessions", "message-rate", "error-rate", "received", "sent", "errors", "publications", "events", "calls",
     "call-errors"].forEach(function (id) { setText(id, DASH); });
    ["chart-sessions", "chart-messages", "chart-errors"].forEach(function (id) {
      var svg = $(id);
      while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    });
    ["realms", "transports", "processes"].forEach(function (id) { replaceRows(id, []); });
  }

  function poll() {
    var done = function () { window.setTimeout(poll, interval * 1000); };
    fetch("data", {cache: "no-store", credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) {
          return response.text().then(function (body) {
            fail("refused", "The node refused the dashboard data (HTTP " + response.status + "): " +
              body.trim().slice(0, 300));
          });
        }
        return response.json().then(show);
      }, function (error) {
        fail("unreachable", "The node cannot be reached (" + error.message + ")");
      })
      .catch(function (error) { fail("unreachable", "The node's answer could not be read (" + error.message + ")"); })
      .then(done);
  }

  document.addEventListener("DOMContentLoaded", poll);
}());
