/* slotwise public pages: zone detection, the hold countdown,
   live slot updates (SSE, when the server offers them) and embed resizing. No build step. */
(function () {
  "use strict";
  var doc = document;

  function detectZone() {
    var page = doc.querySelector("[data-detect-zone]");
    if (!page || !window.Intl) return;
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || zone === page.getAttribute("data-detect-zone")) return;
    var url = new URL(location.href);
    if (url.searchParams.get("tz")) return;
    url.searchParams.set("tz", zone);
    location.replace(url.toString());
  }

  function countdown() {
    var box = doc.querySelector("[data-countdown]");
    if (!box) return;
    var end = Date.now() + 1000 * parseInt(box.getAttribute("data-countdown"), 10);
    var shown = box.querySelector(".countdown");
    var announce = box.querySelector("[data-announce]");
    var lastMinute = null;
    var lang = doc.documentElement.lang || undefined;
    var minutes = new Intl.NumberFormat(lang, { style: "unit", unit: "minute", unitDisplay: "long" });
    function tick() {
      var left = Math.max(0, Math.round((end - Date.now()) / 1000));
      var m = Math.floor(left / 60), s = left % 60;
      shown.textContent = "(" + m + ":" + (s < 10 ? "0" : "") + s + ")";
      var minute = Math.ceil(left / 60);
      if (minute !== lastMinute && left > 0) {
        if (lastMinute !== null) announce.textContent = minutes.format(minute);
        lastMinute = minute;
      }
      if (left === 0) {
        box.querySelector(".expired").hidden = false;
        announce.textContent = box.querySelector(".expired").textContent.trim();
        box.classList.add("ran-out");
        return;
      }
      setTimeout(tick, 1000 - (Date.now() % 1000));
    }
    tick();
  }

  function overlapsDay(event, slots) {
    try {
      var data = JSON.parse(event.data);
      var day = slots.getAttribute("data-day");
      var start = new Date(data.start), end = new Date(data.end);
      // The shown day, widened by the widest UTC offsets: a spare re-fetch costs little.
      var from = new Date(day + "T00:00:00Z").getTime() - 14 * 3600e3;
      var to = from + (24 + 28) * 3600e3;
      return start.getTime() < to && end.getTime() > from;
    } catch (e) { return true; }
  }

  function live() {
    var slots = doc.getElementById("slots");
    if (!slots || !slots.getAttribute("data-live") || !window.EventSource) return;
    var source = new EventSource(slots.getAttribute("data-live"));
    var failures = 0;
    source.addEventListener("slots", function (event) {
      var current = doc.getElementById("slots");
      if (!current || !current.getAttribute("data-url") || !window.htmx) return;
      if (overlapsDay(event, current)) refetch();
    });
    function refetch() {
      var current = doc.getElementById("slots");
      if (!current || !current.getAttribute("data-url") || !window.htmx) return;
      // A live refresh must not move the visitor's focus (see markDay).
      htmx.ajax("GET", current.getAttribute("data-url"), { target: "#slots", swap: "outerHTML" });
    }
    var opened = false;
    source.onopen = function () {
      // A reconnect may have missed events: read the day again.
      if (opened && doc.getElementById("slots")) refetch();
      opened = true;
      failures = 0;
      doc.documentElement.setAttribute("data-live", "open");
    };
    source.onerror = function () {  // absent (404) or down: stop after a few tries
      if (++failures >= 3) source.close();
    };
  }

  function markDay() {
    var picked = false;  // focus follows a day the visitor picked, never a live refresh
    doc.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a.day");
      if (!link) return;
      picked = true;
      doc.querySelectorAll("a.day[aria-current]").forEach(function (a) { a.removeAttribute("aria-current"); });
      link.setAttribute("aria-current", "date");
    });
    doc.body.addEventListener("htmx:afterSwap", function () {
      if (!picked) return;
      picked = false;
      var heading = doc.getElementById("slots-heading");
      if (heading) heading.focus({ preventScroll: true });
    });
  }

  function embed() {
    if (!doc.body.classList.contains("embed") || window.parent === window) return;
    function post() {
      window.parent.postMessage({ type: "slotwise:height", height: doc.documentElement.scrollHeight }, "*");
    }
    if (window.ResizeObserver) new ResizeObserver(post).observe(doc.body);
    doc.body.addEventListener("htmx:afterSettle", post);
    post();
  }

  function start() { detectZone(); countdown(); live(); markDay(); embed(); }
  if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", start); else start();
})();
