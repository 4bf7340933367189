/*
 * Haven chat widget: plain JavaScript, no build step, no third-party code, and no words of its own.
 * This file is the one a site includes; it loads the widget's modules from haven-widget/ beside it
 * (see MODULES below) and starts them.
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
 * lighter shade of it), see haven-widget/theme.js.
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
  // The longest message the field takes: what the NLU reads whole (config.yml, InputGuard's
  // max_chars; tests/test_input_robustness.py checks that the two agree).
  var LIMITS = { maxlength: "1000" };

  // The modules, by concern, in the order they run: each uses only those before it. Classic scripts,
  // not ES modules, for the embedding's sake: a site on another origin includes this file with one
  // plain script tag, and classic scripts load from there without CORS headers, under the same
  // script-src as this file. They share one namespace, window.__havenWidget, which also keeps a
  // second copy of this tag from starting a second widget. The words and numbers (DATA) stay here,
  // handed to main.js only; the namespace holds code alone.
  //   contrast   colour maths (also what tests/widget_contrast.js measures with)
  //   copy       the words of content/widget.yml for the visitor's locale
  //   render     DOM nodes: rich text, messages, quick replies, links, crisis numbers
  //   theme      the site owner's colours, kept readable
  //   session    the conversation in sessionStorage, and nowhere else
  //   transport  Rasa's REST channel and the website server's small API
  //   dialog     the launcher, the chat dialog, Quick exit, keyboard and focus
  //   main       the conversation, and start()
  var MODULES = ["contrast", "copy", "render", "theme", "session", "transport", "dialog", "main"];
  var haven = window.__havenWidget = {};
  var base = script.src.replace(/\.js(\?.*)?$/, "/");
  var query = (/\?[^#]*/.exec(script.src) || [""])[0]; // a cache-busting ?v=... goes to the modules too
  var tags = MODULES.map(function (name) {
    var tag = document.createElement("script");
    tag.src = base + name + ".js" + query;
    tag.async = false; // inserted scripts otherwise run in the order they arrive, not this one
    if (script.nonce) { tag.nonce = script.nonce; } // a host page's nonce-based CSP admits them too
    tag.addEventListener("error", function () {
      if (window.console) { console.error("haven-widget: a module of the widget did not load:", tag.src); }
    });
    (document.head || document.documentElement).appendChild(tag);
    return tag;
  });
  tags[tags.length - 1].addEventListener("load", function () {
    // A module that failed has said so above; start only with all of them.
    if (MODULES.every(function (name) { return haven[name]; })) {
      haven.main.start(script, DATA, LIMITS);
    }
  });
})();
