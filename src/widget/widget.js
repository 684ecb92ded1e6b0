/* Rathaus web widget. One tag on any city page:
 *   <script src="https://rathaus.example/widget.js" data-lang="de" defer></script>
 * Optional: data-color, data-position="left|right", data-privacy-url, data-title.
 * No cookies, no third-party requests: it talks only to the server it was loaded from and
 * keeps the conversation in sessionStorage, so it survives a reload but not the tab. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__rathausWidget) { return; }
  window.__rathausWidget = true;
  var base = new URL(script.src, document.baseURI).origin;
  var cfg = {
    lang: (script.dataset.lang || document.documentElement.lang || "de").slice(0, 2) === "en" ? "en" : "de",
    color: /^#[0-9a-fA-F]{3,8}$/.test(script.dataset.color || "") ? script.dataset.color : "#004b87",
    position: script.dataset.position === "left" ? "left" : "right",
    privacy: script.dataset.privacyUrl || "",
    title: script.dataset.title || ""
  };
  var T = {
    de: {
      open: "Fragen an die Stadt? Chat öffnen", title: "Digitaler Bürgerservice", close: "Chat schließen",
      notice: "Hier antwortet ein automatischer Assistent (kein Mensch). Er antwortet aus den Informationen der Stadt. Sie können jederzeit mit einer Mitarbeiterin oder einem Mitarbeiter sprechen.",
      privacy: "Datenschutzhinweis", person: "Mit einem Menschen sprechen", label: "Ihre Frage",
      placeholder: "Zum Beispiel: Was kostet ein Reisepass?", send: "Senden", you: "Sie", bot: "Assistent",
      staff: "Mitarbeiterin/Mitarbeiter", sending: "wird gesendet …", sent: "gesendet",
      failed: "nicht gesendet", retry: "Erneut senden", source: "Quelle", booking: "Termin buchen",
      waiting: "Eine Mitarbeiterin oder ein Mitarbeiter übernimmt gleich. Der Verlauf wird übergeben.",
      position: function (n) { return n === 1 ? "Sie sind als Nächstes dran." : "Sie sind Nummer " + n + " in der Warteschlange."; },
      wait: function (m) { return "Geschätzte Wartezeit: etwa " + m + " Minute" + (m === 1 ? "" : "n") + "."; },
      claimed: "Eine Mitarbeiterin oder ein Mitarbeiter ist jetzt für Sie da.",
      closed: "Das Gespräch mit der Mitarbeiterin oder dem Mitarbeiter ist beendet. Der Assistent beantwortet wieder Ihre Fragen.",
      typing: "schreibt …", offline: "Verbindung unterbrochen – wird wiederhergestellt …",
      choose: "Bitte wählen Sie:", log: "Gesprächsverlauf"
    },
    en: {
      open: "Questions for the city? Open chat", title: "Digital citizen service", close: "Close chat",
      notice: "An automated assistant answers here (not a person). It answers from the city's information. You can talk to a member of staff at any time.",
      privacy: "Privacy notice", person: "Talk to a person", label: "Your question",
      placeholder: "For example: How much is a passport?", send: "Send", you: "You", bot: "Assistant",
      staff: "Staff", sending: "sending …", sent: "sent", failed: "not sent", retry: "Send again",
      source: "Source", booking: "Book an appointment",
      waiting: "A member of staff will take over shortly. They will see this conversation.",
      position: function (n) { return n === 1 ? "You are next." : "You are number " + n + " in the queue."; },
      wait: function (m) { return "Expected wait: about " + m + " minute" + (m === 1 ? "" : "s") + "."; },
      claimed: "A member of staff is now with you.",
      closed: "The conversation with staff has ended. The assistant answers your questions again.",
      typing: "is typing …", offline: "Connection lost – reconnecting …",
      choose: "Please choose:", log: "Conversation"
    }
  }[cfg.lang];

  var KEY = "rathaus:" + base;
  var saved = {};
  try { saved = JSON.parse(sessionStorage.getItem(KEY) || "{}") || {}; } catch (e) { saved = {}; }
  var conv = saved.id && saved.token ? { id: saved.id, token: saved.token } : null;
  var lastSeq = 0, seen = {}, streamAbort = null, backoff = 1000, typingTimer = null;

  function save(extra) {
    try {
      var v = { id: conv && conv.id, token: conv && conv.token, open: !!extra.open };
      sessionStorage.setItem(KEY, JSON.stringify(v));
    } catch (e) { /* private mode: the conversation lasts as long as the page */ }
  }

  function el(tag, attrs, children) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { n.textContent = attrs[k]; } else if (k === "class") { n.className = attrs[k]; } else { n.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { n.appendChild(c); } });
    return n;
  }

  var host = el("div", { id: "rathaus-widget" });
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = ":host{all:initial}*{box-sizing:border-box}" +
    ".rw{position:fixed;bottom:1rem;" + cfg.position + ":1rem;z-index:2147483000;font:16px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:#1a1a1a}" +
    "button{font:inherit;cursor:pointer;border-radius:.35rem;border:2px solid var(--c);background:var(--c);color:#fff;padding:.45rem .8rem}" +
    "button.ghost{background:#fff;color:var(--c)}" +
    ":focus-visible{outline:3px solid #ff9e00;outline-offset:2px}" +
    ".launch{border-radius:2rem;padding:.7rem 1.2rem;box-shadow:0 2px 8px rgba(0,0,0,.3)}" +
    ".panel{display:flex;flex-direction:column;width:min(24rem,calc(100vw - 2rem));height:min(36rem,calc(100vh - 2rem));background:#fff;border:1px solid #6b6b6b;border-radius:.6rem;box-shadow:0 4px 18px rgba(0,0,0,.3);overflow:hidden}" +
    ".panel[hidden],.launch[hidden]{display:none}" +
    "header{display:flex;align-items:center;gap:.5rem;padding:.5rem .75rem;background:var(--c);color:#fff}" +
    "header h2{flex:1;margin:0;font-size:1.05rem}" +
    "header button{background:#fff;color:var(--c);border-color:#fff;padding:.25rem .6rem}" +
    ".notice{margin:0;padding:.5rem .75rem;background:#eef3f8;font-size:.875rem;border-bottom:1px solid #c8c8c8}" +
    ".notice a{color:#00406f}" +
    ".log{flex:1;overflow-y:auto;margin:0;padding:.75rem}.msgs{list-style:none;margin:0;padding:0}" +
    ".m{margin:.4rem 0;max-width:88%;padding:.45rem .65rem;border-radius:.6rem;white-space:pre-wrap;overflow-wrap:anywhere}" +
    ".m .who{display:block;font-size:.8rem;font-weight:700;color:#3d3d3d}" +
    ".citizen{margin-left:auto;background:#e3ecf5}.bot{background:#f2f2f2}.staff{background:#fff;border:2px solid var(--c)}" +
    ".m .st{display:block;font-size:.78rem;color:#3d3d3d;text-align:right}.m.fail .st{color:#8a1c00;font-weight:700}" +
    ".m a{color:#00406f}.links{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:.3rem;white-space:normal}" +
    ".choices{display:flex;flex-direction:column;gap:.35rem;margin-top:.4rem;white-space:normal}.choices button{text-align:left;background:#fff;color:var(--c)}" +
    ".status{margin:0;padding:0 .75rem;font-size:.875rem;color:#1a1a1a}.status:empty{display:none}.status p{margin:.35rem 0}" +
    "form{display:flex;gap:.5rem;padding:.6rem .75rem;border-top:1px solid #c8c8c8}" +
    "form label{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    "textarea{flex:1;font:inherit;resize:none;padding:.4rem;border:1px solid #6b6b6b;border-radius:.35rem;min-height:3.2rem;max-height:8rem}" +
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}" +
    "@media (prefers-reduced-motion:no-preference){.panel{transition:opacity .15s}}" +
    "@media (max-width:30rem){.rw{bottom:0;" + cfg.position + ":0}.panel{width:100vw;height:100vh;border-radius:0}}";
  var style = el("style", { text: css });
  var wrap = el("div", { class: "rw", style: "--c:" + cfg.color });
  var launch = el("button", { class: "launch", type: "button", "aria-expanded": "false", "aria-controls": "rw-panel", text: T.open });
  var titleId = "rw-title";
  var close = el("button", { type: "button", "aria-label": T.close, text: "×" });
  var person = el("button", { type: "button", class: "ghost", text: T.person });
  var notice = el("p", { class: "notice" }, [document.createTextNode(T.notice + " ")]);
  if (cfg.privacy) { notice.appendChild(el("a", { href: cfg.privacy, target: "_blank", rel: "noopener", text: T.privacy })); }
  // The live region is a plain box around the list: a list keeps its list semantics.
  var list = el("ol", { class: "msgs" });
  var log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-label": T.log, tabindex: "0" }, [list]);
  var status = el("div", { class: "status", role: "status", "aria-live": "polite" });
  var input = el("textarea", { id: "rw-input", rows: "2", placeholder: T.placeholder, maxlength: "4000" });
  var send = el("button", { type: "submit", text: T.send });
  var form = el("form", {}, [el("label", { for: "rw-input", text: T.label }), input, send]);
  var panel = el("section", { class: "panel", id: "rw-panel", role: "dialog", "aria-modal": "false", "aria-labelledby": titleId, hidden: "" }, [
    el("header", {}, [el("h2", { id: titleId, text: cfg.title || T.title }), close]),
    notice,
    el("div", { style: "padding:.4rem .75rem 0" }, [person]),
    log, status, form
  ]);
  wrap.appendChild(launch);
  wrap.appendChild(panel);
  root.appendChild(style);
  root.appendChild(wrap);

  function api(path, opts) {
    opts = opts || {};
    var headers = { "Content-Type": "application/json" };
    if (conv) { headers.Authorization = "Bearer " + conv.token; }
    return fetch(base + path, { method: opts.method || "GET", headers: headers, body: opts.body ? JSON.stringify(opts.body) : undefined, credentials: "omit" })
      .then(function (r) {
        if (r.status === 404 || r.status === 401) { var e = new Error("gone"); e.gone = true; throw e; }
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.status === 204 ? null : r.json();
      });
  }

  function start() {
    if (conv) { return Promise.resolve(conv); }
    return api("/api/v1/conversations", { method: "POST", body: { channel: "web" } }).then(function (c) {
      conv = { id: c.id, token: c.token };
      save({ open: true });
      connect();
      return conv;
    });
  }

  function who(m) {
    if (m.author === "citizen") { return T.you; }
    if (m.author === "staff") { return m.author_name || T.staff; }
    return T.bot;
  }

  // The reply's text ends with its links written out for plain channels ("Quelle: https://…");
  // here they are buttons below it, so those lines go.
  function shown(m, entries) {
    if (m.outcome !== "answer" || !entries[0]) { return m.text; }
    var urls = [entries[0].source, entries[0].booking].filter(Boolean);
    return m.text.split("\n").filter(function (line) {
      return !urls.some(function (u) { return /^[^:]{1,40}:\s*https?:\/\//.test(line) && line.trim().slice(-u.length) === u; });
    }).join("\n").replace(/\s+$/, "");
  }

  function render(m) {
    if (m.author === "system" || m.author === "note") { return; }
    if (seen[m.seq]) { return; }
    seen[m.seq] = true;
    if (m.seq > lastSeq) { lastSeq = m.seq; }
    if (m.author === "citizen") {
      // Our own message is on screen already, waiting for its number.
      var pending = log.querySelector("li[data-pending='" + CSS.escape(m.text) + "']");
      if (pending) { pending.removeAttribute("data-pending"); return; }
    }
    if (m.author === "staff") { status.textContent = ""; }
    var entries = m.entries || [];
    var li = el("li", { class: "m " + m.author }, [el("span", { class: "who", text: who(m) }), document.createTextNode(shown(m, entries))]);
    if (m.outcome === "answer" && entries[0]) {
      var links = el("span", { class: "links" });
      if (entries[0].source) { links.appendChild(el("a", { href: entries[0].source, target: "_blank", rel: "noopener", text: T.source + ": " + entries[0].name })); }
      if (entries[0].booking) { links.appendChild(el("a", { href: entries[0].booking, target: "_blank", rel: "noopener", text: T.booking })); }
      if (links.childNodes.length) { li.appendChild(links); }
    }
    if (m.outcome === "clarify" && entries.length) {
      var box = el("span", { class: "choices", role: "group", "aria-label": T.choose });
      entries.forEach(function (e) {
        var b = el("button", { type: "button", text: e.name });
        b.addEventListener("click", function () { ask(e.name, e.id); });
        box.appendChild(b);
      });
      li.appendChild(box);
    }
    list.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }

  function showState(s) {
    status.textContent = "";
    if (s.state === "waiting") {
      status.appendChild(el("p", { text: T.waiting }));
      if (s.queue) {
        status.appendChild(el("p", { text: T.position(s.queue.position) + (s.queue.expected_minutes ? " " + T.wait(s.queue.expected_minutes) : "") }));
      }
    } else if (s.state === "claimed") {
      status.appendChild(el("p", { text: T.claimed }));
    } else if (s.state === "closed" && s.was) {
      status.appendChild(el("p", { text: T.closed }));
    }
  }

  var lastState = null;
  function onState(s) {
    s.was = lastState === "waiting" || lastState === "claimed";
    lastState = s.state;
    showState(s);
  }

  // Server-Sent Events read with fetch, so the token stays in a header and out of URLs.
  function connect() {
    if (!conv || streamAbort) { return; }
    var ctrl = new AbortController();
    streamAbort = ctrl;
    var headers = { Authorization: "Bearer " + conv.token, Accept: "text/event-stream" };
    if (lastSeq) { headers["Last-Event-ID"] = String(lastSeq); }
    fetch(base + "/api/v1/conversations/" + conv.id + "/events", { headers: headers, signal: ctrl.signal, credentials: "omit" })
      .then(function (r) {
        if (r.status === 404 || r.status === 401) { forget(); return; }
        if (!r.ok || !r.body) { throw new Error(String(r.status)); }
        backoff = 1000;
        if (status.dataset.offline) { delete status.dataset.offline; status.textContent = ""; }
        var reader = r.body.getReader(), dec = new TextDecoder(), buf = "";
        function pump() {
          return reader.read().then(function (x) {
            if (x.done) { throw new Error("closed"); }
            buf += dec.decode(x.value, { stream: true });
            var i;
            while ((i = buf.indexOf("\n\n")) >= 0) {
              dispatch(buf.slice(0, i));
              buf = buf.slice(i + 2);
            }
            return pump();
          });
        }
        return pump();
      })
      .catch(function () {
        if (streamAbort !== ctrl) { return; }
        streamAbort = null;
        if (!conv) { return; }
        if (moving) {
          // The server is stopping and said so: reconnect quietly, spread over a few seconds
          // so that not every widget arrives at the next instance at once.
          moving = false;
          setTimeout(connect, 1000 + Math.random() * 3000);
          return;
        }
        status.dataset.offline = "1";
        status.textContent = T.offline;
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 30000);
      });
  }

  var moving = false;

  function dispatch(block) {
    var type = "message", data = "";
    block.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) { type = line.slice(6).trim(); }
      else if (line.indexOf("data:") === 0) { data += line.slice(5).replace(/^ /, ""); }
    });
    if (!data) { return; }
    var v;
    try { v = JSON.parse(data); } catch (e) { return; }
    if (type === "reconnect") { moving = true; }
    else if (type === "message") { render(v); }
    else if (type === "state") { onState(v); }
    else if (type === "typing") {
      status.textContent = T.staff + " " + T.typing;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { if (status.textContent.indexOf(T.typing) > 0) { status.textContent = ""; } }, 6000);
    }
  }

  function forget() {
    conv = null; lastSeq = 0; seen = {};
    if (streamAbort) { streamAbort.abort(); streamAbort = null; }
    try { sessionStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
  }

  function ask(text, choice) {
    text = (text || "").trim();
    if (!text) { return; }
    var li = el("li", { class: "m citizen", "data-pending": text }, [el("span", { class: "who", text: T.you }), document.createTextNode(text)]);
    var st = el("span", { class: "st", text: T.sending });
    li.appendChild(st);
    list.appendChild(li);
    log.scrollTop = log.scrollHeight;
    var body = { text: text, lang: cfg.lang };
    if (choice) { body.choice = choice; }
    start()
      .then(function () { return api("/api/v1/conversations/" + conv.id + "/messages", { method: "POST", body: body }); })
      .then(function () { st.textContent = T.sent; return sync(); })
      .catch(function (e) {
        if (e && e.gone) { forget(); }
        li.className = "m citizen fail";
        li.removeAttribute("data-pending");
        st.textContent = T.failed + " ";
        var again = el("button", { type: "button", class: "ghost", text: T.retry });
        again.addEventListener("click", function () { li.remove(); ask(text, choice); });
        st.appendChild(again);
      });
  }

  // Catches up from the transcript: after sending, and on resume.
  function sync() {
    if (!conv) { return Promise.resolve(); }
    return api("/api/v1/conversations/" + conv.id).then(function (t) {
      t.messages.forEach(render);
      onState({ state: t.state, queue: t.queue });
      connect();
    }).catch(function (e) { if (e && e.gone) { forget(); } });
  }

  function open() {
    panel.hidden = false;
    launch.hidden = true;
    launch.setAttribute("aria-expanded", "true");
    save({ open: true });
    input.focus();
  }

  function shut() {
    panel.hidden = true;
    launch.hidden = false;
    launch.setAttribute("aria-expanded", "false");
    save({ open: false });
    launch.focus();
  }

  launch.addEventListener("click", open);
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { shut(); } });
  person.addEventListener("click", function () {
    start()
      .then(function () { return api("/api/v1/conversations/" + conv.id + "/handoff", { method: "POST", body: { lang: cfg.lang } }); })
      .then(sync)
      .catch(function () { status.textContent = T.failed; });
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value;
    input.value = "";
    ask(text);
    input.focus();
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit")); }
  });

  function mount() {
    document.body.appendChild(host);
    if (conv) { sync(); }
    if (saved.open) { panel.hidden = false; launch.hidden = true; launch.setAttribute("aria-expanded", "true"); }
  }
  if (document.body) { mount(); } else { document.addEventListener("DOMContentLoaded", mount); }
})();
