/*
 * Haven widget: colour maths (WCAG 2.x contrast), in one place. The widget corrects the site owner's
 * colours with it (theme.js), and tests/widget_contrast.js measures the widget in the page with it,
 * through window.__havenWidget.contrast, so the check and the correction can never drift apart the
 * way two copies did. It touches no widget state and no page element: a canvas of its own at most.
 *
 * A colour is [r, g, b, alpha]: r, g and b from 0 to 255, alpha from 0 to 1.
 */
(function (haven) {
  "use strict";
  if (!haven) { return; }

  var BLACK = [0, 0, 0, 1];
  var WHITE = [255, 255, 255, 1];
  var canvas = null;

  /** A colour as getComputedStyle writes it (rgb(), rgba(), color(srgb ...)), read exactly, or null.
   * Exact matters to the test: a canvas would round a translucent colour to 8 bits. */
  function parse(value) {
    var m = /^rgba?\(([^)]*)\)$/.exec(value);
    var p;
    if (m) {
      p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
      return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
    }
    m = /^color\(srgb ([^)]*)\)$/.exec(value);
    if (m) {
      p = m[1].split(/[\s/]+/).filter(Boolean).map(Number);
      return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1];
    }
    return null;
  }

  /** Any CSS colour a site owner may write (#hex, a name, hsl(), ...), as the browser paints it, or
   * null if it is not one. The canvas, not a parser of our own, so every syntax the browser knows works. */
  function read(value) {
    value = String(value || "").trim();
    if (!value) { return null; }
    if (!canvas) {
      canvas = document.createElement("canvas");
      canvas.setAttribute("width", "1");
      canvas.setAttribute("height", "1");
    }
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

  /** `top` laid over `bottom` (an opaque colour): the opaque colour the eye sees. */
  function over(top, bottom) {
    var a = top[3];
    return [0, 1, 2].map(function (i) { return top[i] * a + bottom[i] * (1 - a); }).concat([1]);
  }

  /** WCAG relative luminance of an opaque colour. */
  function luminance(c) {
    var v = [0, 1, 2].map(function (i) {
      var s = c[i] / 255;
      return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2];
  }

  /** WCAG contrast ratio of two opaque colours, from 1 to 21. */
  function ratio(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  /** The contrast of `fg` read on `bg`, either of them translucent (`bg` then lies on white). */
  function contrast(fg, bg) {
    bg = over(bg, WHITE);
    return ratio(over(fg, bg), bg);
  }

  /** The lowest contrast of `fg` on any of the backgrounds. */
  function worst(fg, bgs) {
    return Math.min.apply(null, bgs.map(function (bg) { return contrast(fg, bg); }));
  }

  function mix(a, b, amount) {
    return [0, 1, 2].map(function (i) { return Math.round(a[i] + (b[i] - a[i]) * amount); }).concat([1]);
  }

  function blackOrWhite(bgs) { return worst(BLACK, bgs) >= worst(WHITE, bgs) ? BLACK : WHITE; }

  /** The least change of `fg` towards black or white that reads at `needed` on every background. */
  function shade(fg, bgs, needed) {
    for (var step = 1; step <= 20; step++) {
      var darker = mix(fg, BLACK, step / 20);
      var lighter = mix(fg, WHITE, step / 20);
      var dark = worst(darker, bgs);
      var light = worst(lighter, bgs);
      if (dark >= needed || light >= needed) { return dark >= light ? darker : lighter; }
    }
    return blackOrWhite(bgs);
  }

  function css(c) { return "rgb(" + c.slice(0, 3).join(", ") + ")"; }

  haven.contrast = {
    BLACK: BLACK, WHITE: WHITE, parse: parse, read: read, over: over, luminance: luminance, ratio: ratio,
    contrast: contrast, worst: worst, mix: mix, blackOrWhite: blackOrWhite, shade: shade, css: css
  };
})(window.__havenWidget);
