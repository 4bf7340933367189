/*
 * Haven widget: the site owner's colours, kept readable. Colours come from data-accent-color,
 * data-background-color, data-text-color, data-bot-color on the script tag, or from the CSS custom
 * properties of haven-widget.css. Whatever they are, a text colour that would fall below WCAG AA on
 * its background becomes black or white, and a border or focus colour a darker or lighter shade.
 * The maths is contrast.js, the same that tests/widget_contrast.js measures with.
 */
(function (haven) {
  "use strict";
  if (!haven) { return; }

  var c = haven.contrast;
  var COLOR_OPTIONS = {
    accentColor: "--haven-accent",
    backgroundColor: "--haven-bg",
    textColor: "--haven-text",
    botColor: "--haven-bot-bg"
  };
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

  /** The host page's colour behind the widget: the first opaque background from <body> up, or white. */
  function pageBackground(root) {
    for (var node = root.parentElement; node; node = node.parentElement) {
      var color = c.read(window.getComputedStyle(node).backgroundColor);
      if (color && color[3] >= 1) { return color; }
    }
    return c.WHITE;
  }

  function checkColors(root, options) {
    function readVar(name) {
      return name === "page" ? pageBackground(root) : c.read(window.getComputedStyle(root).getPropertyValue(name));
    }
    Object.keys(COLOR_OPTIONS).forEach(function (option) {
      var wanted = options[option] ? c.read(options[option]) : null;
      if (wanted) { root.style.setProperty(COLOR_OPTIONS[option], c.css(c.over(wanted, c.WHITE))); }
    });
    var accent = readVar("--haven-accent");
    if (accent) {
      var onAccent = readVar("--haven-on-accent");
      if (!onAccent || c.contrast(onAccent, accent) < 4.5) {
        onAccent = c.blackOrWhite([accent]);
        root.style.setProperty("--haven-on-accent", c.css(onAccent));
      }
      // Hover: a step away from the text colour on the accent, so the text only gains contrast. The
      // default hover goes with the default accent; a site's own accent gets its own.
      var hover = readVar("--haven-accent-hover");
      if (options.accentColor || !hover || c.contrast(onAccent, hover) < 4.5) {
        hover = c.mix(accent, c.luminance(onAccent) > 0.5 ? c.BLACK : c.WHITE, 0.15);
        root.style.setProperty("--haven-accent-hover", c.css(hover));
      }
    }
    READABLE.forEach(function (rule) {
      var fg = readVar(rule[0]);
      var bgs = rule[1].map(readVar).filter(Boolean);
      if (!fg || !bgs.length || c.worst(fg, bgs) >= rule[2]) { return; }
      root.style.setProperty(rule[0], c.css(rule[3] === "bw" ? c.blackOrWhite(bgs) : c.shade(fg, bgs, rule[2])));
    });
  }

  /** Once the widget's stylesheet is in (or failed), the owner's colours, checked; then the widget is
   * shown (.haven-ready) whatever happens. `options`: the script tag's data-* attributes. */
  function keepReadable(root, stylesheet, options) {
    function ensureReadable() {
      try { checkColors(root, options); } finally { root.classList.add("haven-ready"); }
    }
    if (stylesheet) {
      stylesheet.addEventListener("load", ensureReadable);
      stylesheet.addEventListener("error", ensureReadable);
    } else {
      ensureReadable();
    }
  }

  haven.theme = { keepReadable: keepReadable };
})(window.__havenWidget);
