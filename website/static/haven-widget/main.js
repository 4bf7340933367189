/*
 * Haven widget: the conversation. Loaded last; haven-widget.js calls main.start() with its script tag,
 * the data the website server put into it, and its limits. Sends what the visitor types or picks,
 * shows the replies (with their source line, booking reference, crisis banner), and clears or
 * leaves: "Clear conversation" and "Quick exit" also ask the site to delete the conversation on the
 * server. Quick exit replaces the page in the tab's history (location.replace), so Back does not
 * return to the chat page.
 *
 * Crisis replies carry one-tap buttons whose payload is a tel:, sms: or https: link
 * (safety/hotlines.yml): they are shown as links under the reply, never sent back, and they stay
 * when the quick replies of that moment go.
 */
(function (haven) {
  "use strict";
  if (!haven) { return; }

  var REFERENCE = /^[A-Z0-9-]{4,24}$/;

  function start(script, DATA, limits) {
    var render = haven.render;
    var session = haven.session;
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
    var words = haven.copy(DATA, config.locale);
    var t = words.t;
    config.title = config.title || t("title");

    var state = session.load();
    var transport = haven.transport(config);
    var ui = haven.dialog(words, config, limits, {
      open: function () { open(); }, close: close, leave: leave, clear: clearConversation,
      say: function (text) { send(text, text); }
    });
    var log = ui.log;
    var renderMessage = render.messages(words, config, function (button) {
      // The button goes once chosen (retireButtons): the cursor goes to the message field, not
      // to <body>, whether it was chosen with the mouse or the keyboard.
      ui.input.focus();
      send(button.payload, button.title);
    });
    haven.theme.keepReadable(ui.root, ui.stylesheet, data);

    /* ---------------------------------------------------------------- crisis numbers for the visitor's region */

    var resources = DATA.crisis;

    function renderResources() { render.resources(words, ui, resources, state.category); }

    function unreachableText() {
      return t("unreachable", {
        title: config.title, crisis_line: resources.lines.suicide[0], emergency: resources.emergency
      });
    }

    function loadCrisisResources() {
      if (!window.fetch) { return; }
      transport.crisisResources().then(function (r) {
        if (render.isResources(r)) { resources = r; renderResources(); }
      }, function () { /* keep the default region's numbers, which came with this script */ });
    }

    /* ---------------------------------------------------------------- the log */

    function renderAll() {
      while (log.firstChild) { log.removeChild(log.firstChild); }
      state.messages.forEach(function (message) { log.appendChild(renderMessage(message)); });
      ui.crisisBanner.hidden = !state.crisis;
      renderResources();
      log.scrollTop = log.scrollHeight;
    }

    function addMessage(message) {
      state.messages.push(message);
      session.save(state);
      log.appendChild(renderMessage(message));
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
        var buttons = offered.filter(function (b) { return !render.LINK_PAYLOAD.test(b.payload); });
        var links = offered.filter(function (b) { return render.LINK_PAYLOAD.test(b.payload); })
          .map(function (b) { return { title: b.title, href: b.payload }; });
        addMessage({
          from: "bot", kind: "text", text: reply.text,
          buttons: buttons.length ? buttons : undefined, links: links.length ? links : undefined
        });
      }
      if (custom && typeof custom === "object") {
        if (custom.safety === "crisis") {
          state.crisis = true;
          state.category = render.CATEGORIES.indexOf(custom.category) >= 0 ? custom.category : "suicide";
          ui.crisisBanner.hidden = false;
          renderResources();
          session.save(state);
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

    /* ---------------------------------------------------------------- talking to Rasa, one message at a time */

    var queue = Promise.resolve();
    var pending = 0;

    function setTyping(on) {
      pending += on ? 1 : -1;
      ui.typing.hidden = pending <= 0;
      if (!ui.typing.hidden) { log.scrollTop = log.scrollHeight; }
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
        return transport.post(sender, message).then(function (replies) {
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

    /* ---------------------------------------------------------------- open, close, clear, exit */

    function open(options) {
      ui.display(true);
      state.open = true;
      var greet = !(options && options.greet === false) && !state.greeted;
      if (!state.greeted) { state.greeted = true; }
      session.save(state);
      if (greet) { send("/greet", null); }
      if (!(options && options.focus === false)) { ui.input.focus(); }
    }

    function close() {
      ui.display(false);
      state.open = false;
      session.save(state);
      ui.launcher.focus();
    }

    function clearConversation() {
      var oldSender = state.sender;
      var restart = transport.post(oldSender, "/restart", true).catch(function () { /* best effort: the id is never reused */ });
      // After the restart (and anything still on its way for the old id), delete what the server kept.
      Promise.all([queue, restart]).then(function () { transport.forget(oldSender, false); });
      session.forget();
      state = session.fresh();
      pending = 0;
      ui.typing.hidden = true;
      renderAll();
      open();
    }

    function leave() {
      if (state.greeted || state.messages.length) { transport.forget(state.sender, true); }
      session.forget();
      state = session.fresh();
      while (log.firstChild) { log.removeChild(log.firstChild); }
      ui.panel.hidden = true;
      document.title = t("exit_page_title");
      // replace, not assign: the chat page's entry is overwritten, so Back does not lead to it.
      window.location.replace(config.exitUrl);
    }

    Array.prototype.forEach.call(document.querySelectorAll("[data-haven-send]"), function (trigger) {
      trigger.addEventListener("click", function (event) {
        event.preventDefault();
        // Straight to what was asked for: no greeting first (the booking reply introduces itself).
        open({ greet: false, focus: false });
        send(trigger.getAttribute("data-haven-send"), (trigger.textContent || "").trim() || null);
        ui.input.focus();
      });
    });

    loadCrisisResources();
    renderAll();
    if (state.open) { open({ focus: false }); }
  }

  haven.main = { start: start };
})(window.__havenWidget);
