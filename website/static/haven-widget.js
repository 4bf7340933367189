/*
 * Haven chat widget: plain JavaScript, no build step, no third-party code.
 *
 *   <script src="/static/haven-widget.js" data-rasa-url="https://rasa.example" data-title="Haven"
 *           data-locale="en-US" defer></script>
 *
 * Optional attributes: data-article-title, data-article-url (page holding the article's heading
 * anchors, default "/"), data-exit-url (where "Quick exit" goes), data-css (stylesheet URL; default:
 * haven-widget.css next to this script). Colours are CSS custom properties (see haven-widget.css).
 * Any element on the page with data-haven-send="/payload" opens the chat and sends that payload.
 *
 * Privacy: the conversation (sender id, messages, crisis banner) lives in sessionStorage only, so it
 * is gone when the tab closes; nothing is ever written to localStorage or cookies. Visitor and bot
 * text is only ever inserted as text nodes. "Clear conversation" and "Quick exit" also ask the site
 * (POST /api/conversations/<id>/forget, same origin as this script) to delete it on the server.
 * The crisis banner shows the numbers for the locale's region (GET /api/crisis-resources, from
 * safety/hotlines.yml); if that fails it keeps the US numbers below.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__havenWidget) { return; }
  window.__havenWidget = true;

  var data = script.dataset;
  var config = {
    rasaUrl: (data.rasaUrl || "").replace(/\/+$/, ""),
    title: data.title || "Haven",
    locale: data.locale || navigator.language || "en-US",
    articleTitle: data.articleTitle || "the article",
    articleUrl: data.articleUrl || "/",
    exitUrl: data.exitUrl || "https://www.google.com/search?q=weather",
    css: data.css || script.src.replace(/\.js(\?.*)?$/, ".css"),
    // The website server that serves this script: crisis numbers by region, forgetting a conversation.
    siteUrl: new URL(script.src, document.baseURI).origin
  };
  var STORE_KEY = "haven-widget:v1";
  var TIMEOUT_MS = 30000;
  var ESC_WINDOW_MS = 1500;

  var TEXT = {
    launcher: "Chat with " + config.title,
    close: "Close chat",
    quickExit: "Quick exit",
    quickExitHint: "Leave this page now (or press Esc twice)",
    clear: "Clear conversation",
    notice: "Not an emergency service \u2014 in crisis call or text 988, or 911",
    crisisTitle: "You deserve support right now.",
    crisisCall988: "Call 988",
    crisisText988: "Text 988",
    crisisCall911: "Call 911",
    crisisCall: "Call ",
    crisisBody: "988 Suicide & Crisis Lifeline, any time. If you are in immediate danger, call 911.",
    log: "Conversation with " + config.title,
    inputLabel: "Your message",
    placeholder: "Type your question\u2026",
    send: "Send",
    typing: config.title + " is typing",
    you: "You said:",
    bot: config.title + " said:",
    source: "From the article: ",
    booking: "Your booking reference: ",
    unreachableStart: "I can\u2019t reach " + config.title + " right now. Please try again in a moment. ",
    unreachable: "I can\u2019t reach " + config.title + " right now. Please try again in a moment. " +
      "If you are in crisis, call or text 988 (Suicide & Crisis Lifeline), or call 911 if you are in danger.",
    exitPage: "\u2026"
  };
  var SENDER_ID = /^[A-Za-z0-9_-]{16,64}$/;

  /* ------------------------------------------------------------------ state (sessionStorage only) */

  function newSender() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function freshState() {
    return { sender: newSender(), messages: [], crisis: false, greeted: false, open: false };
  }

  function loadState() {
    try {
      var raw = window.sessionStorage.getItem(STORE_KEY);
      var saved = raw ? JSON.parse(raw) : null;
      if (saved && typeof saved.sender === "string" && Array.isArray(saved.messages)) { return saved; }
    } catch (e) { /* storage blocked or corrupt: start afresh */ }
    return freshState();
  }

  function saveState() {
    try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }

  function forgetState() {
    try { window.sessionStorage.removeItem(STORE_KEY); } catch (e) { /* nothing stored */ }
  }

  var state = loadState();

  /* ------------------------------------------------------------------ DOM helpers */

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === null || value === undefined || value === false) { return; }
      if (name === "text") { node.textContent = value; } else { node.setAttribute(name, value === true ? "" : value); }
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  /** Same anchor ids as website/article.py `slug`. */
  function slug(text) {
    return String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  }

  var TOKEN = /(\*\*[^*\n]+\*\*|https?:\/\/[^\s<>"']+)/g;

  /** Bot text as DOM nodes: plain text, **bold** and http(s) links only; never parsed as HTML. */
  function richText(parent, text) {
    String(text).split("\n").forEach(function (line, index) {
      if (index > 0) { parent.appendChild(el("br")); }
      line.split(TOKEN).forEach(function (part) {
        if (!part) { return; }
        if (/^\*\*[^*\n]+\*\*$/.test(part)) {
          parent.appendChild(el("strong", { text: part.slice(2, -2) }));
        } else if (/^https?:\/\//.test(part)) {
          var trail = (part.match(/[.,;:!?)]+$/) || [""])[0];
          var url = trail ? part.slice(0, -trail.length) : part;
          parent.appendChild(el("a", { href: url, target: "_blank", rel: "noopener noreferrer", text: url }));
          if (trail) { parent.appendChild(document.createTextNode(trail)); }
        } else {
          parent.appendChild(document.createTextNode(part));
        }
      });
    });
  }

  /* ------------------------------------------------------------------ build the widget */

  if (config.css) {
    document.head.appendChild(el("link", { rel: "stylesheet", href: config.css }));
  }

  var launcher = el("button", {
    type: "button", "class": "haven-launcher", "data-testid": "haven-launcher",
    "aria-expanded": "false", "aria-controls": "haven-panel", text: TEXT.launcher
  });
  var closeButton = el("button", { type: "button", "class": "haven-icon-button", "aria-label": TEXT.close, text: "\u00d7" });
  var quickExit = el("button", {
    type: "button", "class": "haven-quick-exit", "data-testid": "haven-quick-exit",
    title: TEXT.quickExitHint, "aria-describedby": "haven-exit-hint", text: TEXT.quickExit
  });
  var clearButton = el("button", { type: "button", "class": "haven-text-button", "data-testid": "haven-clear", text: TEXT.clear });
  var crisisBanner = el("div", {
    "class": "haven-crisis", "data-testid": "haven-crisis-banner", role: "region", "aria-label": TEXT.crisisTitle, hidden: true
  }, [
    el("p", { "class": "haven-crisis-title", text: TEXT.crisisTitle }),
    el("p", { "class": "haven-crisis-actions", "data-testid": "haven-crisis-actions" }, [
      el("a", { href: "tel:988", text: TEXT.crisisCall988 }),
      el("a", { href: "sms:988", text: TEXT.crisisText988 }),
      el("a", { href: "tel:911", text: TEXT.crisisCall911 })
    ]),
    el("div", { "class": "haven-crisis-body", "data-testid": "haven-crisis-body" }, [el("p", { text: TEXT.crisisBody })])
  ]);
  var log = el("div", { "class": "haven-log", role: "log", "aria-live": "polite", "aria-label": TEXT.log, tabindex: "0" });
  var typing = el("div", { "class": "haven-typing", "data-testid": "haven-typing", hidden: true }, [
    el("span", { "class": "haven-sr", text: TEXT.typing }),
    el("span", { "class": "haven-dot", "aria-hidden": "true" }),
    el("span", { "class": "haven-dot", "aria-hidden": "true" }),
    el("span", { "class": "haven-dot", "aria-hidden": "true" })
  ]);
  var input = el("input", {
    id: "haven-input", type: "text", "class": "haven-input", "data-testid": "haven-input",
    autocomplete: "off", maxlength: "1000", placeholder: TEXT.placeholder
  });
  var sendButton = el("button", { type: "submit", "class": "haven-send", "data-testid": "haven-send", text: TEXT.send });
  var form = el("form", { "class": "haven-form" }, [
    el("label", { "for": "haven-input", "class": "haven-sr", text: TEXT.inputLabel }), input, sendButton
  ]);
  var panel = el("section", {
    id: "haven-panel", "class": "haven-panel", role: "dialog", "aria-label": config.title, hidden: true
  }, [
    el("div", { "class": "haven-header" }, [el("h2", { "class": "haven-title", text: config.title }), closeButton]),
    el("div", { "class": "haven-toolbar" }, [
      quickExit, el("span", { id: "haven-exit-hint", "class": "haven-sr", text: TEXT.quickExitHint }), clearButton
    ]),
    el("p", { "class": "haven-notice", "data-testid": "haven-notice", text: TEXT.notice }),
    crisisBanner, log, typing, form
  ]);
  var root = el("div", { "class": "haven-root" }, [panel, launcher]);
  document.body.appendChild(root);

  /* ------------------------------------------------------------------ crisis numbers for the visitor's region */

  function replaceChildren(node, children) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
    children.forEach(function (child) { node.appendChild(child); });
  }

  function isText(value) { return typeof value === "string" && value.length > 0 && value.length < 500; }

  /** The reviewed numbers of safety/hotlines.yml (GET /api/crisis-resources); the US text stays otherwise. */
  function applyCrisisResources(r) {
    var lines = r && r.lines && Array.isArray(r.lines.suicide) ? r.lines.suicide.filter(isText) : [];
    if (!r || !isText(r.emergency_number) || !isText(r.help_number) || !isText(r.help_line) || !lines.length) { return; }
    var actions = crisisBanner.querySelector(".haven-crisis-actions");
    var body = crisisBanner.querySelector(".haven-crisis-body");
    replaceChildren(actions, [
      el("a", { href: "tel:" + r.help_number.replace(/[^0-9]/g, ""), text: TEXT.crisisCall + r.help_number }),
      el("a", { href: "tel:" + r.emergency_number.replace(/[^0-9]/g, ""), text: TEXT.crisisCall + r.emergency_number })
    ]);
    replaceChildren(body, lines.map(function (line) { return el("p", { text: line }); }));
    TEXT.unreachable = TEXT.unreachableStart + r.help_line;
  }

  function loadCrisisResources() {
    if (!window.fetch) { return; }
    fetch(config.siteUrl + "/api/crisis-resources?locale=" + encodeURIComponent(config.locale), {
      credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store"
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(applyCrisisResources, function () { /* keep the built-in US numbers */ });
  }

  /** Delete a conversation on the server (not only restart it); fire and forget. */
  function forgetOnServer(sender, beacon) {
    if (!SENDER_ID.test(sender || "")) { return; }
    var url = config.siteUrl + "/api/conversations/" + encodeURIComponent(sender) + "/forget";
    try {
      if (beacon && navigator.sendBeacon && navigator.sendBeacon(url)) { return; }
      fetch(url, { method: "POST", credentials: "omit", referrerPolicy: "no-referrer", keepalive: true })
        .catch(function () { /* best effort: the id is never reused */ });
    } catch (e) { /* best effort */ }
  }

  /* ------------------------------------------------------------------ rendering */

  function renderMessage(message) {
    var row;
    if (message.from === "user") {
      row = el("div", { "class": "haven-msg haven-msg-user", "data-testid": "haven-message-user" }, [
        el("span", { "class": "haven-sr", text: TEXT.you + " " }), message.text
      ]);
    } else if (message.kind === "source") {
      var section = message.section || "";
      var anchor = slug(section || config.articleTitle);
      row = el("p", { "class": "haven-source", "data-testid": "haven-source" }, [
        TEXT.source,
        el("a", { href: config.articleUrl + (anchor ? "#" + anchor : ""), text: section || config.articleTitle })
      ]);
    } else {
      row = el("div", {
        "class": "haven-msg haven-msg-bot" + (message.kind === "error" ? " haven-msg-error" : ""),
        "data-testid": "haven-message-bot"
      }, [el("span", { "class": "haven-sr", text: TEXT.bot + " " })]);
      richText(row, message.text || "");
      if (message.buttons && message.buttons.length) {
        var group = el("div", { "class": "haven-buttons", role: "group" });
        message.buttons.forEach(function (button) {
          var b = el("button", { type: "button", "class": "haven-quick-reply", "data-testid": "haven-quick-reply", text: button.title });
          b.addEventListener("click", function () { send(button.payload, button.title); });
          group.appendChild(b);
        });
        row.appendChild(group);
      }
    }
    log.appendChild(row);
  }

  function renderAll() {
    while (log.firstChild) { log.removeChild(log.firstChild); }
    state.messages.forEach(renderMessage);
    crisisBanner.hidden = !state.crisis;
    log.scrollTop = log.scrollHeight;
  }

  function addMessage(message) {
    state.messages.push(message);
    saveState();
    renderMessage(message);
    log.scrollTop = log.scrollHeight;
  }

  /** Quick replies belong to the moment they were offered: once the visitor answers, they go. */
  function retireButtons() {
    var changed = false;
    state.messages.forEach(function (m) { if (m.buttons) { delete m.buttons; changed = true; } });
    if (changed) {
      Array.prototype.forEach.call(log.querySelectorAll(".haven-buttons"), function (g) { g.parentNode.removeChild(g); });
    }
  }

  function handleReply(reply) {
    var custom = reply.custom;
    if (typeof reply.text === "string" && reply.text) {
      var buttons = (reply.buttons || []).filter(function (b) { return b && b.title && b.payload; })
        .map(function (b) { return { title: String(b.title), payload: String(b.payload) }; });
      addMessage({ from: "bot", kind: "text", text: reply.text, buttons: buttons.length ? buttons : undefined });
    }
    if (custom && typeof custom === "object") {
      if (custom.safety === "crisis") {
        state.crisis = true;
        crisisBanner.hidden = false;
        saveState();
      }
      if (typeof custom.topic === "string" && custom.topic) {
        addMessage({ from: "bot", kind: "source", section: typeof custom.section === "string" ? custom.section : "" });
      }
      if (custom.booking && typeof custom.booking.reference === "string") {
        addMessage({ from: "bot", kind: "text", text: TEXT.booking + custom.booking.reference });
      }
    }
  }

  /* ------------------------------------------------------------------ talking to Rasa (REST channel) */

  var queue = Promise.resolve();
  var pending = 0;

  function timezone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { return null; }
  }

  function post(sender, message, keepalive) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, TIMEOUT_MS) : null;
    return fetch(config.rasaUrl + "/webhooks/rest/webhook", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: sender, message: message, metadata: { locale: config.locale, timezone: timezone() } }),
      credentials: "omit",
      referrerPolicy: "no-referrer",
      keepalive: !!keepalive,
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (timer) { clearTimeout(timer); }
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }, function (error) {
      if (timer) { clearTimeout(timer); }
      throw error;
    });
  }

  function setTyping(on) {
    pending += on ? 1 : -1;
    typing.hidden = pending <= 0;
    if (!typing.hidden) { log.scrollTop = log.scrollHeight; }
  }

  /** Send a payload or typed text; `shown` is what appears as the visitor's message (null: nothing). */
  function send(message, shown) {
    message = String(message || "").trim();
    if (!message) { return queue; }
    if (shown !== null) {
      retireButtons();
      addMessage({ from: "user", text: shown === undefined ? message : String(shown) });
    }
    var sender = state.sender;
    setTyping(true);
    queue = queue.then(function () {
      return post(sender, message).then(function (replies) {
        if (sender !== state.sender) { return; } // the conversation was cleared meanwhile
        var firstNew = log.children.length;
        (Array.isArray(replies) ? replies : []).forEach(handleReply);
        // Long answers are read from their start, not from their last line.
        var first = log.children[firstNew];
        if (first) { log.scrollTop = Math.max(0, first.offsetTop - log.offsetTop - 8); }
      }).catch(function () {
        if (sender !== state.sender) { return; }
        addMessage({ from: "bot", kind: "error", text: TEXT.unreachable });
      }).then(function () { setTyping(false); });
    });
    return queue;
  }

  /* ------------------------------------------------------------------ open, close, clear, exit */

  function open(options) {
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    root.classList.add("haven-open");
    state.open = true;
    var greet = !(options && options.greet === false) && !state.greeted;
    if (!state.greeted) { state.greeted = true; }
    saveState();
    if (greet) { send("/greet", null); }
    if (!(options && options.focus === false)) { input.focus(); }
  }

  function close() {
    panel.hidden = true;
    launcher.setAttribute("aria-expanded", "false");
    root.classList.remove("haven-open");
    state.open = false;
    saveState();
    launcher.focus();
  }

  function clearConversation() {
    var oldSender = state.sender;
    var restart = post(oldSender, "/restart", true).catch(function () { /* best effort: the id is never reused */ });
    // After the restart (and anything still on its way for the old id), delete what the server kept.
    Promise.all([queue, restart]).then(function () { forgetOnServer(oldSender, false); });
    forgetState();
    state = freshState();
    pending = 0;
    typing.hidden = true;
    renderAll();
    open();
  }

  function quickExit_() {
    forgetOnServer(state.sender, true);
    forgetState();
    state = freshState();
    while (log.firstChild) { log.removeChild(log.firstChild); }
    panel.hidden = true;
    document.title = TEXT.exitPage;
    window.location.replace(config.exitUrl);
  }

  launcher.addEventListener("click", function () { if (panel.hidden) { open(); } else { close(); } });
  closeButton.addEventListener("click", close);
  quickExit.addEventListener("click", quickExit_);
  clearButton.addEventListener("click", clearConversation);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { input.focus(); return; }
    input.value = "";
    send(text, text);
    input.focus();
  });

  var lastEscape = 0;
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var now = Date.now();
    if (now - lastEscape < ESC_WINDOW_MS) { quickExit_(); return; }
    lastEscape = now;
    if (!panel.hidden && panel.contains(document.activeElement)) { close(); }
  });

  Array.prototype.forEach.call(document.querySelectorAll("[data-haven-send]"), function (trigger) {
    trigger.addEventListener("click", function (event) {
      event.preventDefault();
      // Straight to what was asked for: no greeting first (the booking reply introduces itself).
      open({ greet: false, focus: false });
      send(trigger.getAttribute("data-haven-send"), (trigger.textContent || "").trim() || null);
      input.focus();
    });
  });

  loadCrisisResources();
  renderAll();
  if (state.open) { open({ focus: false }); }
})();
