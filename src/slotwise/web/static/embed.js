/* slotwise booking widget: <script src="https://HOST/embed.js" data-org="SLUG"
   data-service="SLUG" [data-lang="de"] async></script> puts the service's booking flow in an
   iframe right where the tag is, sized to its content. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var origin = new URL(script.src).origin;
  var org = script.getAttribute("data-org");
  if (!org) return;
  var path = "/" + encodeURIComponent(org);
  var service = script.getAttribute("data-service");
  if (service) path += "/" + encodeURIComponent(service);
  var params = new URLSearchParams({ embed: "1" });
  if (script.getAttribute("data-lang")) params.set("lang", script.getAttribute("data-lang"));
  var frame = document.createElement("iframe");
  frame.src = origin + path + "?" + params.toString();
  frame.title = script.getAttribute("data-title") || "Booking";
  frame.loading = "lazy";
  frame.className = "slotwise-embed";
  frame.style.cssText = "width:100%;min-height:480px;border:0;display:block";
  script.parentNode.insertBefore(frame, script.nextSibling);
  window.addEventListener("message", function (event) {
    if (event.origin !== origin || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (data.type === "slotwise:height" && data.height > 0) frame.style.height = data.height + "px";
  });
})();
