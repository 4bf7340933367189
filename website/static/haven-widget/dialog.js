/*
 * Haven widget: the launcher, the chat dialog and Quick exit, and the keyboard. One Quick exit button
 * is on the page whenever the widget is: beside the launcher while the chat is closed, at the top of
 * the chat while it is open (moved, not copied: the contract's hook is unique), and Alt+Shift+X
 * works everywhere, a chord nobody presses by habit. Esc only closes the chat, so closing it twice
 * out of habit can never wipe it. While the chat fills a phone's screen it is a modal dialog
 * (aria-modal) and Tab stays inside it (WCAG 2.4.11: focus never lands on hidden page links).
 * What the buttons do to the conversation is main.js's: it passes them in as `actions`.
 */
(function (haven) {
  "use strict";
  if (!haven) { return; }

  var el = haven.render.el;
  // Quick exit from the keyboard: Alt+Shift+X (Option+Shift+X on a Mac; matched by the key's position,
  // event.code, because Option turns the letter into another character there).
  var EXIT_KEYS = "Alt+Shift+X";
  // The width below which the chat fills the screen (haven-widget.css, the same media query).
  var FULL_SCREEN = "(max-width:480px)";

  /** Builds the widget into the page. config: {title, css, ...}; limits: {maxlength};
   * actions: {open, close, leave, clear, say(text)}. */
  haven.dialog = function (words, config, limits, actions) {
    var t = words.t;
    var TITLE = { title: config.title };

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
      autocomplete: "off", maxlength: limits.maxlength, placeholder: t("placeholder")
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
    var root = el("div", { "class": "haven-root", lang: words.lang }, [
      panel, dock, el("span", { id: "haven-exit-hint", "class": "haven-sr", text: t("quick_exit_hint") })
    ]);
    document.body.appendChild(root);

    /** One Quick exit button: beside the launcher while the chat is closed, atop the chat while open. */
    function placeQuickExit(inPanel) {
      var home = inPanel ? toolbar : dock;
      if (quickExit.parentNode !== home) { home.insertBefore(quickExit, home.firstChild); }
    }

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

    /** The chat open (true) or closed, with Quick exit, the launcher's state and the modal role to match. */
    function display(open) {
      panel.hidden = !open;
      updateModal();
      placeQuickExit(open);
      launcher.setAttribute("aria-expanded", open ? "true" : "false");
      root.classList.toggle("haven-open", open);
    }

    launcher.addEventListener("click", function () { if (panel.hidden) { actions.open(); } else { actions.close(); } });
    closeButton.addEventListener("click", actions.close);
    quickExit.addEventListener("click", actions.leave);
    clearButton.addEventListener("click", actions.clear);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) { input.focus(); return; }
      input.value = "";
      actions.say(text);
      input.focus();
    });

    document.addEventListener("keydown", function (event) {
      if (event.altKey && event.shiftKey && !event.ctrlKey && !event.metaKey &&
          (event.code === "KeyX" || String(event.key).toLowerCase() === "x")) {
        event.preventDefault();
        actions.leave();
        return;
      }
      if (event.key === "Escape") {
        // Esc only closes the chat: pressed twice out of habit it must not wipe the conversation.
        if (!panel.hidden && panel.contains(document.activeElement)) { actions.close(); }
        return;
      }
      if (event.key === "Tab" && isFullScreen()) {
        // The focus trap of the full-screen chat.
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

    return {
      root: root, stylesheet: stylesheet, panel: panel, launcher: launcher, log: log, typing: typing, input: input,
      notice: notice, crisisBanner: crisisBanner, crisisActions: crisisActions, crisisBody: crisisBody,
      display: display
    };
  };
})(window.__havenWidget);
