/*
 * Haven chat widget: plain JavaScript, no build step, no third-party code, and no words of its own.
 *
 *   <script src="https://SITE/static/haven-widget.js" data-rasa-url="https://rasa.example"
 *           data-title="Haven" data-locale="en-US" defer></script>
 *
 * Optional attributes: data-article-title, data-article-url (page holding the article's heading
 * anchors, default "/"), data-exit-url (where "Quick exit" goes), data-css (stylesheet URL; default:
 * haven-widget.css next to this script), and colours: data-accent-color, data-background-color,
 * data-text-color, data-bot-color (any CSS colour). Colours can also be set as CSS custom properties
 * (see haven-widget.css). Whatever the colours, the widget keeps its text readable: a text colour that
 * would fall below WCAG AA contrast on its background is replaced by black or white (or a darker or
 * lighter shade of it), see ensureReadable().
 * Any element on the page with data-haven-send="/payload" opens the chat and sends that payload.
 *
 * Words: every visible or spoken word comes from content/widget.yml, which the website server puts
 * in place of the marker below when it serves this file (website/widget.py), together with the default
 * region's crisis numbers (safety/hotlines.yml). The numbers for the visitor's own region come from
 * GET /api/crisis-resources?locale=...; until then, or if that fails, the default region's stay.
 *
 * Privacy: the conversation (sender id, messages, crisis banner) lives in sessionStorage only, so it
 * is gone when the tab closes; nothing is ever written to localStorage or cookies. Visitor and bot
 * text is only ever inserted as text nodes. "Clear conversation" and "Quick exit" also ask the site
 * (POST /api/conversations/<id>/forget, same origin as this script) to delete it on the server.
 * "Quick exit" is on the page whenever the widget is: beside the launcher while the chat is closed,
 * at the top of the chat while it is open (one button, moved), and Alt+Shift+X works everywhere (a
 * chord nobody presses by habit: Esc only closes the chat, so closing can never wipe it). It replaces
 * the page in the tab's history (location.replace), so Back does not return to the chat page.
 *
 * Crisis replies carry one-tap buttons whose payload is a tel:, sms: or https: link
 * (safety/hotlines.yml): they are shown as links under the reply, never sent back, and they stay
 * when the quick replies of that moment go.
 *
 * Keyboard: choosing a quick reply puts the cursor back in the message field; while the chat fills a
 * phone's screen it is a modal dialog (aria-modal) and Tab stays inside it.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__havenWidget) { return; }

  // Replaced by the website server with {"copy", "default_locale", "crisis", "explanations"}.
  var DATA = /* haven:data */ null;
  if (!DATA || !DATA.copy || !DATA.copy[DATA.default_locale] || !DATA.crisis) {
    // Served without its words and numbers (not by the Haven website server): a widget that cannot
    // say anything, nor give a crisis number, must not appear. The host page's own notice remains.
    if (window.console) { console.error("haven-widget: load this script from the Haven website server"); }
    return;
  }
  window.__havenWidget = true;

  var data = script.dataset;
  var config = {
    rasaUrl: (data.rasaUrl || "").replace(/\/+$/, ""),
    title: data.title || "",
    locale: data.locale || navigator.language || "",
    articleTitle: data.articleTitle || "",
    articleUrl: data.articleUrl || "/",
    exitUrl: data.exitUrl || "https://www.google.com/search?q=weather",
    css: data.css || script.src.replace(/\.js(\?.*)?$/, ".css"),
    // The website server that serves this script: crisis numbers by region, forgetting a conversation.
    siteUrl: new URL(script.src, document.baseURI).origin
  };
  var COLOR_OPTIONS = {
    accentColor: "--haven-accent",
    backgroundColor: "--haven-bg",
    textColor: "--haven-text",
    botColor: "--haven-bot-bg"
  };
  var STORE_KEY = "haven-widget:v1";
  var TIMEOUT_MS = 30000;
  // Quick exit from the keyboard: Alt+Shift+X (Option+Shift+X on a Mac; matched by the key's position,
  // event.code, because Option turns the letter into another character there).
  var EXIT_KEYS = "Alt+Shift+X";
  // The width below which the chat fills the screen (haven-widget.css, the same media query).
  var FULL_SCREEN = "(max-width:480px)";
  // Buttons that are links, not answers: call, text (with its keyword) or a web page.
  var LINK_PAYLOAD = /^(tel:\+?[0-9]{3,15}|sms:\+?[0-9]{3,15}(\?&body=[A-Za-z0-9]{1,20})?|https:\/\/[^\s<>"']+)$/;
  var SENDER_ID = /^[A-Za-z0-9_-]{16,64}$/;
  var REFERENCE = /^[A-Z0-9-]{4,24}$/;
  var CATEGORIES = ["suicide", "self_harm", "danger"];

  /* ------------------------------------------------------------------ words (content/widget.yml) */

  /** The copy for the locale: en-GB -> "en-gb", then "en", then the default locale. */
  function pickLocale(locale) {
    var wanted = String(locale || "").toLowerCase().replace(/_/g, "-");
    var candidates = [wanted, wanted.split("-")[0], DATA.default_locale];
    for (var i = 0; i < candidates.length; i++) {
      if (candidates[i] && DATA.copy[candidates[i]]) { return candidates[i]; }
    }
    return DATA.default_locale;
  }

  var LANG = pickLocale(config.locale);

  function template(key) {
    var own = DATA.copy[LANG] || {};
    var text = own[key] !== undefined ? own[key] : DATA.copy[DATA.default_locale][key];
    if (typeof text !== "string") {
      if (window.console) { console.error("haven-widget: no copy for this key:", key); }
      return "";
    }
    return text;
  }

  /** A copy text with its {placeholders} filled: a list of strings and DOM nodes (links). */
  function parts(key, values) {
    var out = [];
    template(key).split(/\{([a-z_]+)\}/).forEach(function (piece, index) {
      if (index % 2 === 0) { if (piece) { out.push(piece); } return; }
      var value = values ? values[piece] : undefined;
      if (value === undefined || value === null) {
        if (window.console) { console.error("haven-widget: no value for this placeholder:", piece, key); }
        return;
      }
      out.push(typeof value === "object" ? value : String(value));
    });
    return out;
  }

  /** A copy text with its {placeholders} filled, as plain text. */
  function t(key, values) {
    return parts(key, values).map(function (p) { return typeof p === "string" ? p : p.textContent; }).join("");
  }

  config.title = config.title || t("title");
  var TITLE = { title: config.title };

  /* ------------------------------------------------------------------ state (sessionStorage only) */

  function newSender() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function freshState() {
    return { sender: newSender(), messages: [], crisis: false, category: null, greeted: false, open: false };
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

  function replaceChildren(node, children) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
    children.forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
  }

  /** Same anchor ids as website/article.py `slug`. */
  function slug(text) {
    return String(text).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  }

  function telLink(number, text) {
    return el("a", { href: "tel:" + String(number).replace(/[^0-9+]/g, ""), text: text || number });
  }

  // **bold**, [label](url) and bare http(s) URLs; everything else is text.
  var TOKEN = /(\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\s]+\)|https?:\/\/[^\s<>\u0022\u0027]+)/g;
  var SAFE_URL = /^(https?:\/\/|mailto:|tel:)/i;

  function link(url, label) {
    var external = /^https?:/i.test(url);
    return el("a", {
      href: url, text: label, target: external ? "_blank" : null, rel: external ? "noopener noreferrer" : null
    });
  }

  /** Bot text as DOM nodes: a <p> per paragraph (a blank line between them), plain text, **bold** and
   * safe links only; never parsed as HTML. */
  function richText(parent, text) {
    String(text).split(/\n[ \t]*\n/).forEach(function (block) {
      if (!block.trim()) { return; }
      var paragraph = el("p", { "class": "haven-para" });
      inlineText(paragraph, block.replace(/^\n+|\n+$/g, ""));
      parent.appendChild(paragraph);
    });
  }

  /** One paragraph: line breaks, **bold** and safe links. */
  function inlineText(parent, text) {
    String(text).split("\n").forEach(function (line, index) {
      if (index > 0) { parent.appendChild(el("br")); }
      line.split(TOKEN).forEach(function (part) {
        if (!part) { return; }
        var label = /^\[([^\]\n]+)\]\(([^)\s]+)\)$/.exec(part);
        if (/^\*\*[^*\n]+\*\*$/.test(part)) {
          parent.appendChild(el("strong", { text: part.slice(2, -2) }));
        } else if (label) {
          // A link to anything but the web, mail or a phone (javascript:, data:, ...) stays text.
          parent.appendChild(SAFE_URL.test(label[2]) ? link(label[2], label[1]) : document.createTextNode(part));
        } else if (/^https?:\/\//.test(part)) {
          var trail = (part.match(/[.,;:!?)]+$/) || [""])[0];
          var url = trail ? part.slice(0, -trail.length) : part;
          parent.appendChild(link(url, url));
          if (trail) { parent.appendChild(document.createTextNode(trail)); }
        } else {
          parent.appendChild(document.createTextNode(part));
        }
      });
    });
  }

  /* ------------------------------------------------------------------ build the widget */

  var stylesheet = null;
  if (config.css) {
    stylesheet = el("link", { rel: "stylesheet", href: config.css });
    document.head.appendChild(stylesheet);
  }

  var launcher = el("button", {
    type: "button", "class": "haven-launcher", "data-testid": "haven-launcher",
    "aria-expanded": "false", "aria-controls": "haven-panel", text: t("launcher", TITLE)
  });
  var closeButton = el("button", {
    type: "button", "class": "haven-icon-button", "aria-label": t("close"), text: t("close_symbol")
  });
  var quickExit = el("button", {
    type: "button", "class": "haven-quick-exit", "data-testid": "haven-quick-exit",
    title: t("quick_exit_hint"), "aria-describedby": "haven-exit-hint", "aria-keyshortcuts": EXIT_KEYS,
    text: t("quick_exit")
  });
  // Under Quick exit in the open chat: the shortcut, and how to leave fewer traces (issue 12.6).
  var exitNote = el("p", { "class": "haven-exit-note", "data-testid": "haven-exit-note" }, [
    el("span", { text: t("quick_exit_keys") }), " ",
    el("span", { "data-testid": "haven-private-tip", text: t("private_tip") })
  ]);
  var clearButton = el("button", { type: "button", "class": "haven-text-button", "data-testid": "haven-clear", text: t("clear") });
  var notice = el("p", { "class": "haven-notice", "data-testid": "haven-notice" });
  var crisisActions = el("p", { "class": "haven-crisis-actions", "data-testid": "haven-crisis-actions" });
  var crisisBody = el("div", { "class": "haven-crisis-body", "data-testid": "haven-crisis-body" });
  var crisisBanner = el("div", {
    "class": "haven-crisis", "data-testid": "haven-crisis-banner", role: "region", "aria-label": t("crisis_title"), hidden: true
  }, [el("p", { "class": "haven-crisis-title", text: t("crisis_title") }), crisisActions, crisisBody]);
  var log = el("div", { "class": "haven-log", role: "log", "aria-live": "polite", "aria-label": t("log_label", TITLE), tabindex: "0" });
  var typing = el("div", { "class": "haven-typing", "data-testid": "haven-typing", role: "status", hidden: true }, [
    el("span", { "class": "haven-sr", text: t("typing", TITLE) }),
    el("span", { "class": "haven-dot", "aria-hidden": "true" }),
    el("span", { "class": "haven-dot", "aria-hidden": "true" }),
    el("span", { "class": "haven-dot", "aria-hidden": "true" })
  ]);
  var input = el("input", {
    id: "haven-input", type: "text", "class": "haven-input", "data-testid": "haven-input",
    autocomplete: "off", maxlength: "1000", placeholder: t("placeholder")
  });
  var sendButton = el("button", { type: "submit", "class": "haven-send", "data-testid": "haven-send", text: t("send") });
  var form = el("form", { "class": "haven-form" }, [
    el("label", { "for": "haven-input", "class": "haven-sr", text: t("input_label") }), input, sendButton
  ]);
  var toolbar = el("div", { "class": "haven-toolbar" }, [clearButton]);
  var toolbarArea = el("div", { "class": "haven-toolbar-area" }, [toolbar, exitNote]);
  var panel = el("section", {
    id: "haven-panel", "class": "haven-panel", role: "dialog", "aria-label": config.title, hidden: true
  }, [
    el("div", { "class": "haven-header" }, [el("h2", { "class": "haven-title", text: config.title }), closeButton]),
    toolbarArea, notice, crisisBanner, log, typing, form
  ]);
  var dock = el("div", { "class": "haven-dock" }, [quickExit, launcher]);
  var root = el("div", { "class": "haven-root", lang: LANG }, [
    panel, dock, el("span", { id: "haven-exit-hint", "class": "haven-sr", text: t("quick_exit_hint") })
  ]);
  document.body.appendChild(root);

  /** One Quick exit button: beside the launcher while the chat is closed, atop the chat while open. */
  function placeQuickExit(inPanel) {
    var home = inPanel ? toolbar : dock;
    if (quickExit.parentNode !== home) { home.insertBefore(quickExit, home.firstChild); }
  }

  /* ------------------------------------------------------------------ colours that stay readable */

  var BLACK = [0, 0, 0, 1];
  var WHITE = [255, 255, 255, 1];
  // [text colour, the backgrounds it is read on, the contrast it needs, how to fix it]. 4.5:1 for
  // text (WCAG 1.4.3), 3:1 for borders and focus rings (1.4.11). "bw": black or white, whichever
  // reads better; "shade": the same colour made darker or lighter, just enough. "page" is the host
  // page's background, which the launcher and Quick exit sit on while the chat is closed.
  var READABLE = [
    ["--haven-on-accent", ["--haven-accent", "--haven-accent-hover"], 4.5, "bw"],
    ["--haven-text", ["--haven-bg"], 4.5, "bw"],
    ["--haven-bot-text", ["--haven-bot-bg"], 4.5, "bw"],
    ["--haven-muted", ["--haven-bg"], 4.5, "shade"],
    ["--haven-accent-text", ["--haven-bg", "--haven-bot-bg"], 4.5, "shade"],
    ["--haven-input-border", ["--haven-bg"], 3, "shade"],
    ["--haven-launcher-border", ["page"], 3, "shade"],
    ["--haven-focus", ["--haven-bg", "--haven-bot-bg", "--haven-crisis-bg", "page"], 3, "shade"],
    ["--haven-exit-text", ["--haven-exit-bg"], 4.5, "bw"],
    ["--haven-crisis-text", ["--haven-crisis-bg"], 4.5, "bw"]
  ];
  var canvas = null;

  /** Any CSS colour as [r, g, b, alpha], or null if it is not one. */
  function parseColor(value) {
    value = String(value || "").trim();
    if (!value) { return null; }
    canvas = canvas || el("canvas", { width: "1", height: "1" });
    var context = canvas.getContext("2d", { willReadFrequently: true });
    if (!context) { return null; }
    context.fillStyle = "#000";
    context.fillStyle = value;
    var asBlack = context.fillStyle;
    context.fillStyle = "#fff";
    context.fillStyle = value;
    if (context.fillStyle !== asBlack) { return null; } // not a colour: the setter ignored it
    context.clearRect(0, 0, 1, 1);
    context.fillRect(0, 0, 1, 1);
    var d = context.getImageData(0, 0, 1, 1).data;
    return [d[0], d[1], d[2], d[3] / 255];
  }

  function over(top, bottom) {
    var a = top[3];
    return [0, 1, 2].map(function (i) { return top[i] * a + bottom[i] * (1 - a); }).concat([1]);
  }

  function luminance(c) {
    var v = [0, 1, 2].map(function (i) {
      var s = c[i] / 255;
      return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }

  function contrast(fg, bg) {
    bg = over(bg, WHITE);
    var a = luminance(over(fg, bg));
    var b = luminance(bg);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }

  function worst(fg, bgs) {
    return Math.min.apply(null, bgs.map(function (bg) { return contrast(fg, bg); }));
  }

  function mix(a, b, amount) {
    return [0, 1, 2].map(function (i) { return Math.round(a[i] + (b[i] - a[i]) * amount); }).concat([1]);
  }

  function blackOrWhite(bgs) { return worst(BLACK, bgs) >= worst(WHITE, bgs) ? BLACK : WHITE; }

  /** The least change of `fg` towards black or white that reads at `ratio` on every background. */
  function shade(fg, bgs, ratio) {
    for (var step = 1; step <= 20; step++) {
      var darker = mix(fg, BLACK, step / 20);
      var lighter = mix(fg, WHITE, step / 20);
      var dark = worst(darker, bgs);
      var light = worst(lighter, bgs);
      if (dark >= ratio || light >= ratio) { return dark >= light ? darker : lighter; }
    }
    return blackOrWhite(bgs);
  }

  function cssColor(c) { return "rgb(" + c.slice(0, 3).join(", ") + ")"; }

  /** The host page's colour behind the widget: the first opaque background from <body> up, or white. */
  function pageBackground() {
    for (var node = root.parentElement; node; node = node.parentElement) {
      var color = parseColor(window.getComputedStyle(node).backgroundColor);
      if (color && color[3] >= 1) { return color; }
    }
    return WHITE;
  }

  function readVar(name) {
    return name === "page" ? pageBackground() : parseColor(window.getComputedStyle(root).getPropertyValue(name));
  }

  /** The site owner's colours (data-*-color), then every text colour checked against its backgrounds. */
  function ensureReadable() {
    try { checkColors(); } finally { root.classList.add("haven-ready"); } // shown whatever happens
  }

  function checkColors() {
    Object.keys(COLOR_OPTIONS).forEach(function (option) {
      var wanted = data[option] ? parseColor(data[option]) : null;
      if (wanted) { root.style.setProperty(COLOR_OPTIONS[option], cssColor(over(wanted, WHITE))); }
    });
    var accent = readVar("--haven-accent");
    if (accent) {
      var onAccent = readVar("--haven-on-accent");
      if (!onAccent || contrast(onAccent, accent) < 4.5) {
        onAccent = blackOrWhite([accent]);
        root.style.setProperty("--haven-on-accent", cssColor(onAccent));
      }
      // Hover: a step away from the text colour on the accent, so the text only gains contrast. The
      // default hover goes with the default accent; a site's own accent gets its own.
      var hover = readVar("--haven-accent-hover");
      if (data.accentColor || !hover || contrast(onAccent, hover) < 4.5) {
        hover = mix(accent, luminance(onAccent) > 0.5 ? BLACK : WHITE, 0.15);
        root.style.setProperty("--haven-accent-hover", cssColor(hover));
      }
    }
    READABLE.forEach(function (rule) {
      var fg = readVar(rule[0]);
      var bgs = rule[1].map(readVar).filter(Boolean);
      if (!fg || !bgs.length || worst(fg, bgs) >= rule[2]) { return; }
      root.style.setProperty(rule[0], cssColor(rule[3] === "bw" ? blackOrWhite(bgs) : shade(fg, bgs, rule[2])));
    });
  }

  if (stylesheet) {
    stylesheet.addEventListener("load", ensureReadable);
    stylesheet.addEventListener("error", ensureReadable);
  } else {
    ensureReadable();
  }

  /* ------------------------------------------------------------------ crisis numbers for the visitor's region */

  function isText(value) { return typeof value === "string" && value.length > 0 && value.length < 500; }

  function isResources(r) {
    return !!r && isText(r.emergency) && isText(r.emergency_number) && isText(r.help_number) &&
      !!r.lines && CATEGORIES.every(function (c) { return Array.isArray(r.lines[c]) && r.lines[c].filter(isText).length > 0; });
  }

  var resources = DATA.crisis;

  /** The notice and the banner from the current region's resources (safety/hotlines.yml). */
  function renderResources() {
    var r = resources;
    replaceChildren(notice, parts("notice", {
      help_number: telLink(r.help_number), emergency_number: telLink(r.emergency_number)
    }));
    replaceChildren(crisisActions, [
      telLink(r.help_number, t("crisis_call", { number: r.help_number })),
      telLink(r.emergency_number, t("crisis_call", { number: r.emergency_number }))
    ]);
    var category = CATEGORIES.indexOf(state.category) >= 0 ? state.category : "suicide";
    replaceChildren(crisisBody, r.lines[category].filter(isText).map(function (line) { return el("p", { text: line }); }));
  }

  function unreachableText() {
    return t("unreachable", {
      title: config.title, crisis_line: resources.lines.suicide[0], emergency: resources.emergency
    });
  }

  function loadCrisisResources() {
    if (!window.fetch) { return; }
    fetch(config.siteUrl + "/api/crisis-resources?locale=" + encodeURIComponent(config.locale), {
      credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store"
    }).then(function (response) {
      if (!response.ok) { throw new Error("HTTP " + response.status); }
      return response.json();
    }).then(function (r) {
      if (isResources(r)) { resources = r; renderResources(); }
    }, function () { /* keep the default region's numbers, which came with this script */ });
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

  /** Copies the booking reference; the label then says it was copied (read out: aria-live). */
  function referenceButton(reference) {
    var b = el("button", {
      type: "button", "class": "haven-copy", "data-testid": "haven-copy-reference", "aria-live": "polite",
      text: t("copy_reference", { reference: reference })
    });
    function copied() { b.textContent = t("copied_reference", { reference: reference }); }
    function fallback() {
      // No async clipboard (a page not served over https): a hidden field, selected and copied.
      var area = el("textarea", { "class": "haven-sr", "aria-hidden": "true", readonly: "readonly" });
      area.value = reference;
      document.body.appendChild(area);
      area.select();
      try { if (document.execCommand("copy")) { copied(); } } catch (e) { /* nothing to copy with */ }
      document.body.removeChild(area);
      b.focus();
    }
    b.addEventListener("click", function () {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(reference).then(copied, fallback);
      } else {
        fallback();
      }
    });
    return b;
  }

  function renderMessage(message) {
    var row;
    if (message.from === "user") {
      row = el("div", { "class": "haven-msg haven-msg-user", "data-testid": "haven-message-user" }, [
        el("span", { "class": "haven-sr", text: t("user_said") + " " }), message.text
      ]);
    } else if (message.kind === "source") {
      var section = message.section || "";
      var name = section || config.articleTitle || t("article_fallback");
      var anchor = slug(section || config.articleTitle);
      row = el("p", { "class": "haven-source", "data-testid": "haven-source" }, parts("source", {
        section: el("a", { href: config.articleUrl + (anchor ? "#" + anchor : ""), text: name })
      }));
    } else if (message.kind === "reference") {
      row = el("p", { "class": "haven-reference" }, [referenceButton(message.reference)]);
    } else {
      row = el("div", {
        "class": "haven-msg haven-msg-bot" + (message.kind === "error" ? " haven-msg-error" : ""),
        "data-testid": "haven-message-bot"
      }, [el("span", { "class": "haven-sr", text: t("bot_said", TITLE) + " " })]);
      richText(row, message.text || "");
      if (message.buttons && message.buttons.length) {
        var group = el("div", { "class": "haven-buttons", role: "group" });
        message.buttons.forEach(function (button) {
          var b = el("button", { type: "button", "class": "haven-quick-reply", "data-testid": "haven-quick-reply", text: button.title });
          b.addEventListener("click", function () {
            // The button goes once chosen (retireButtons): the cursor goes to the message field, not
            // to <body>, whether it was chosen with the mouse or the keyboard.
            input.focus();
            send(button.payload, button.title);
          });
          group.appendChild(b);
        });
        row.appendChild(group);
      }
      if (message.links && message.links.length) {
        var links = el("div", { "class": "haven-links", role: "group", "aria-label": t("links_label"), "data-testid": "haven-links" });
        message.links.forEach(function (item) {
          if (!LINK_PAYLOAD.test(item.href)) { return; }
          var a = link(item.href, item.title);
          a.setAttribute("class", "haven-link-button");
          a.setAttribute("data-testid", "haven-link-button");
          links.appendChild(a);
        });
        row.appendChild(links);
      }
    }
    log.appendChild(row);
  }

  function renderAll() {
    while (log.firstChild) { log.removeChild(log.firstChild); }
    state.messages.forEach(renderMessage);
    crisisBanner.hidden = !state.crisis;
    renderResources();
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

  /** Topics answered from the article (content/topics.yml) get a source line; booking and hand-off don't. */
  function isExplanation(topic) {
    return !Array.isArray(DATA.explanations) || DATA.explanations.indexOf(topic) >= 0;
  }

  function handleReply(reply) {
    var custom = reply.custom;
    if (typeof reply.text === "string" && reply.text) {
      var offered = (Array.isArray(reply.buttons) ? reply.buttons : []).filter(function (b) { return b && b.title && b.payload; })
        .map(function (b) { return { title: String(b.title), payload: String(b.payload) }; });
      var buttons = offered.filter(function (b) { return !LINK_PAYLOAD.test(b.payload); });
      var links = offered.filter(function (b) { return LINK_PAYLOAD.test(b.payload); })
        .map(function (b) { return { title: b.title, href: b.payload }; });
      addMessage({
        from: "bot", kind: "text", text: reply.text,
        buttons: buttons.length ? buttons : undefined, links: links.length ? links : undefined
      });
    }
    if (custom && typeof custom === "object") {
      if (custom.safety === "crisis") {
        state.crisis = true;
        state.category = CATEGORIES.indexOf(custom.category) >= 0 ? custom.category : "suicide";
        crisisBanner.hidden = false;
        renderResources();
        saveState();
      }
      if (typeof custom.topic === "string" && custom.topic && isExplanation(custom.topic)) {
        addMessage({ from: "bot", kind: "source", section: typeof custom.section === "string" ? custom.section : "" });
      }
      // The reference is in the reply's text already: a button to copy it, not a second line.
      if (custom.booking && typeof custom.booking.reference === "string" && REFERENCE.test(custom.booking.reference)) {
        addMessage({ from: "bot", kind: "reference", reference: custom.booking.reference });
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
      // X-Haven-Sender lets a load balancer route one conversation to one server (deploy/README.md).
      headers: { "Content-Type": "application/json", "X-Haven-Sender": sender },
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
        addMessage({ from: "bot", kind: "error", text: unreachableText() });
      }).then(function () { setTyping(false); });
    });
    return queue;
  }

  /* ------------------------------------------------------------------ open, close, clear, exit */

  var fullScreen = window.matchMedia ? window.matchMedia(FULL_SCREEN) : null;

  function isFullScreen() { return !panel.hidden && !!fullScreen && fullScreen.matches; }

  /** Full screen on a phone the chat is a modal dialog: the page behind it is out of reach. */
  function updateModal() {
    if (isFullScreen()) { panel.setAttribute("aria-modal", "true"); } else { panel.removeAttribute("aria-modal"); }
  }

  if (fullScreen) {
    if (fullScreen.addEventListener) { fullScreen.addEventListener("change", updateModal); }
    else if (fullScreen.addListener) { fullScreen.addListener(updateModal); }
  }

  /** The controls Tab can reach in the chat, in order. */
  function focusables() {
    return Array.prototype.filter.call(
      panel.querySelectorAll("a[href],button,input,[tabindex]"),
      function (node) { return !node.disabled && node.tabIndex >= 0 && node.getClientRects().length > 0; }
    );
  }

  function open(options) {
    panel.hidden = false;
    updateModal();
    placeQuickExit(true);
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
    updateModal();
    placeQuickExit(false);
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

  function leave() {
    if (state.greeted || state.messages.length) { forgetOnServer(state.sender, true); }
    forgetState();
    state = freshState();
    while (log.firstChild) { log.removeChild(log.firstChild); }
    panel.hidden = true;
    document.title = t("exit_page_title");
    // replace, not assign: the chat page's entry is overwritten, so Back does not lead to it.
    window.location.replace(config.exitUrl);
  }

  launcher.addEventListener("click", function () { if (panel.hidden) { open(); } else { close(); } });
  closeButton.addEventListener("click", close);
  quickExit.addEventListener("click", leave);
  clearButton.addEventListener("click", clearConversation);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { input.focus(); return; }
    input.value = "";
    send(text, text);
    input.focus();
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey &&
        (event.code === "KeyX" || String(event.key).toLowerCase() === "x")) {
      event.preventDefault();
      leave();
      return;
    }
    if (event.key === "Escape") {
      // Esc only closes the chat: pressed twice out of habit it must not wipe the conversation.
      if (!panel.hidden && panel.contains(document.activeElement)) { close(); }
      return;
    }
    if (event.key === "Tab" && isFullScreen()) {
      // The focus trap of the full-screen chat (WCAG 2.4.11: focus never lands on hidden page links).
      var items = focusables();
      if (!items.length) { return; }
      var first = items[0];
      var last = items[items.length - 1];
      var active = document.activeElement;
      if (!panel.contains(active)) {
        event.preventDefault();
        (event.shiftKey ? last : first).focus();
      } else if (event.shiftKey && active === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && active === last) {
        event.preventDefault();
        first.focus();
      }
    }
  });
  // Focus that reaches the page behind the full-screen chat some other way comes back to the field.
  document.addEventListener("focusin", function (event) {
    if (isFullScreen() && !panel.contains(event.target)) { input.focus(); }
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
