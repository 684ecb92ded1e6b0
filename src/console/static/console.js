// Rathaus console: live updates of the queue and of an open conversation over
// Server-Sent Events; the pages work without it, this only saves reloading.
(function () {
  "use strict";
  var queue = document.getElementById("queue-rows");
  var conversation = document.querySelector("[data-conversation]");
  var announce = document.getElementById("announce");

  function refresh(url, target) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (r.redirected || !r.ok) { throw new Error(String(r.status)); } return r.text(); })
      .then(function (html) { target.innerHTML = html; })
      .catch(function () { /* the next event or a reload brings it */ });
  }

  function notifyNew() {
    if (announce) { announce.textContent = "Neue Anfrage in der Warteschlange."; }
    if (window.Notification && Notification.permission === "granted" && document.hidden) {
      new Notification("Rathaus", { body: "Neue Anfrage in der Warteschlange." });
    }
  }

  var button = document.getElementById("notify");
  if (button && window.Notification && Notification.permission === "default") {
    button.hidden = false;
    button.addEventListener("click", function () {
      Notification.requestPermission().then(function () { button.hidden = true; });
    });
  }

  if (queue || conversation) {
    var source = new EventSource("/console/events");
    source.addEventListener("update", function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      if (queue && (ev.type === "state" || ev.type === "message")) {
        refresh("/console/queue", queue);
        if (ev.type === "state" && ev.state === "waiting") { notifyNew(); }
      }
      if (conversation && ev.conversation === conversation.dataset.conversation && ev.type !== "typing") {
        if (ev.type === "state") { window.location.reload(); return; }
        refresh("/console/conversations/" + conversation.dataset.conversation + "/transcript",
          document.getElementById("transcript"));
      }
    });
    source.addEventListener("resync", function () {
      if (queue) { refresh("/console/queue", queue); }
      if (conversation) {
        refresh("/console/conversations/" + conversation.dataset.conversation + "/transcript",
          document.getElementById("transcript"));
      }
    });
  }

  if (conversation) {
    var canned = document.getElementById("canned");
    var reply = document.getElementById("reply");
    if (canned && reply) {
      canned.addEventListener("change", function () {
        if (canned.value) {
          reply.value = reply.value ? reply.value + "\n" + canned.value : canned.value;
          reply.focus();
        }
      });
    }
    if (reply) {
      var last = 0;
      reply.addEventListener("input", function () {
        var now = Date.now();
        if (now - last < 3000) { return; }
        last = now;
        fetch("/console/conversations/" + conversation.dataset.conversation + "/typing", {
          method: "POST", credentials: "same-origin",
          headers: { "X-CSRF-Token": conversation.dataset.csrf }
        }).catch(function () {});
      });
    }
  }
})();
