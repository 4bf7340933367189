/*
 * Contrast measurements for tests/test_widget.py, evaluated in the page by Playwright (page.evaluate
 * is not subject to the page's CSP). Defines window.__havenContrast with:
 *   texts()       every visible text of the widget: its colour against its effective background
 *   controls()    every visible button and input: its boundary (fill or border) against what is around it
 *   ring(element) the focus indicator of a focused element: style, width, colour against the colour
 *                 next to it, and whether a scrolling or clipping ancestor cuts it off
 * Colours are composited: a background is the first opaque background-color walking up the
 * ancestors, with every translucent one on the way laid over it; text and borders are laid over that.
 * The sums (reading a colour, laying one over another, luminance, contrast ratio) are the widget's
 * own module, window.__havenWidget.contrast, so this runs after the widget has loaded.
 * WCAG 2.x: 4.5:1 for text, 3:1 for large text (24px, or 18.66px bold), 3:1 for UI component
 * boundaries and focus indicators (1.4.11).
 */
window.__havenContrast = (function () {
  "use strict";

  var ROOT = ".haven-root";

  // The widget's own colour maths (website/static/haven-widget/contrast.js), loaded with the widget:
  // one copy, so what is measured here and what the widget corrects with cannot drift apart.
  // tests/test_widget_modules.py checks those sums against WCAG's published values on their own.
  var maths = window.__havenWidget && window.__havenWidget.contrast;
  if (!maths) { throw new Error("the widget's contrast module is not on the page: load the widget first"); }
  var over = maths.over;
  var ratio = maths.ratio;

  /** A computed colour, read exactly; one the maths cannot read stops the check instead of passing. */
  function parse(value) {
    var c = maths.parse(value);
    if (!c) { throw new Error("a colour the contrast check cannot read: " + value); }
    return c;
  }

  function hex(c) {
    return "#" + c.slice(0, 3).map(function (v) { return ("0" + Math.round(v).toString(16)).slice(-2); }).join("");
  }

  /** The colour behind an element's content: its own background, else its ancestors', composited. */
  function background(node) {
    var layers = [];
    for (var n = node; n && n.nodeType === 1; n = n.parentElement) {
      var style = getComputedStyle(n);
      if (style.backgroundImage && style.backgroundImage !== "none") {
        throw new Error("a background image the contrast check cannot measure: " + describe(n));
      }
      var bg = parse(style.backgroundColor);
      if (bg[3] > 0) { layers.push(bg); if (bg[3] >= 1) { break; } }
    }
    var result = [255, 255, 255, 1]; // the canvas
    for (var i = layers.length - 1; i >= 0; i--) { result = over(layers[i], result); }
    return result;
  }

  function opacity(node) {
    var value = 1;
    for (var n = node; n && n.nodeType === 1; n = n.parentElement) { value *= Number(getComputedStyle(n).opacity); }
    return value;
  }

  function describe(node) {
    var parts = [];
    for (var n = node; n && n.nodeType === 1 && parts.length < 3; n = n.parentElement) {
      var id = n.getAttribute("data-testid");
      var name = n.tagName.toLowerCase() + (id ? "[" + id + "]" : (n.className && typeof n.className === "string" ? "." + n.className.split(/\s+/)[0] : ""));
      parts.unshift(name);
      if (id) { break; }
    }
    return parts.join(" > ");
  }

  function visible(node) {
    if (!node.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) { return false; }
    var rect = node.getBoundingClientRect();
    return rect.width > 1 && rect.height > 1;
  }

  function large(style) {
    var size = parseFloat(style.fontSize);
    var bold = Number(style.fontWeight) >= 700;
    return size >= 24 || (bold && size >= 18.66);
  }

  function measureText(node, text, color) {
    var style = getComputedStyle(node);
    var bg = background(node);
    var fg = color;
    fg = [fg[0], fg[1], fg[2], fg[3] * opacity(node)];
    var fgOnBg = over(fg, bg);
    var big = large(style);
    return {
      kind: "text", what: describe(node), text: text.trim().replace(/\s+/g, " ").slice(0, 60),
      fg: hex(fgOnBg), bg: hex(bg), ratio: ratio(fgOnBg, bg), required: big ? 3 : 4.5,
      font: style.fontSize + " " + style.fontWeight
    };
  }

  function texts() {
    var root = document.querySelector(ROOT);
    var out = [];
    root.querySelectorAll("*").forEach(function (node) {
      if (!visible(node)) { return; }
      if (node.tagName === "INPUT") {
        var style = getComputedStyle(node);
        if (node.value) {
          out.push(measureText(node, node.value, parse(style.color)));
        } else if (node.placeholder) {
          var placeholder = getComputedStyle(node, "::placeholder");
          out.push(measureText(node, node.placeholder, parse(placeholder.color)));
        }
        return;
      }
      var own = Array.prototype.filter.call(node.childNodes, function (c) {
        return c.nodeType === 3 && c.textContent.trim();
      }).map(function (c) { return c.textContent; }).join(" ");
      if (own) { out.push(measureText(node, own, parse(getComputedStyle(node).color))); }
    });
    return out;
  }

  /** A control's boundary: the stronger of its fill and its border against what surrounds it. */
  function control(node) {
    var style = getComputedStyle(node);
    var outside = background(node.parentElement);
    var fill = over(parse(style.backgroundColor), outside);
    var width = parseFloat(style.borderTopWidth);
    var border = width >= 1 && style.borderTopStyle !== "none" ? over(parse(style.borderTopColor), outside) : null;
    var fillRatio = ratio(fill, outside);
    var borderRatio = border ? ratio(border, outside) : 1;
    var hasBoundary = fillRatio > 1.01 || borderRatio > 1.01;
    return {
      kind: "boundary", what: describe(node), text: (node.innerText || node.placeholder || "").trim().slice(0, 60),
      fg: hex(border && borderRatio >= fillRatio ? border : fill), bg: hex(outside),
      ratio: Math.max(fillRatio, borderRatio),
      // A text-only button (no fill, no border: "Clear conversation", the close cross) is identified
      // by its text, which texts() measures; a text field always needs a visible boundary.
      required: hasBoundary || node.tagName === "INPUT" ? 3 : 0
    };
  }

  function controls() {
    var root = document.querySelector(ROOT);
    return Array.prototype.filter.call(root.querySelectorAll("button, input"), visible).map(control);
  }

  function ring(node) {
    var style = getComputedStyle(node);
    var width = parseFloat(style.outlineWidth);
    var offset = parseFloat(style.outlineOffset);
    var result = {
      kind: "focus", what: describe(node), text: (node.innerText || node.getAttribute("aria-label") || "").trim().slice(0, 60),
      style: style.outlineStyle, width: width, offset: offset, clippedBy: null, required: 3
    };
    if (style.outlineStyle === "none" || !(width >= 2)) { result.ratio = 0; result.fg = result.bg = ""; return result; }
    // Drawn outside the element, the ring sits on what surrounds it; drawn inside, on the element.
    var next = offset >= 0 ? background(node.parentElement) : background(node);
    var color = over(parse(style.outlineColor), next);
    result.fg = hex(color);
    result.bg = hex(next);
    result.ratio = ratio(color, next);
    var rect = node.getBoundingClientRect();
    var grow = offset >= 0 ? offset + width : 0;
    var box = { left: rect.left - grow, top: rect.top - grow, right: rect.right + grow, bottom: rect.bottom + grow };
    for (var n = node.parentElement; n && n !== document.documentElement; n = n.parentElement) {
      var s = getComputedStyle(n);
      if (s.overflowX === "visible" && s.overflowY === "visible") { continue; }
      var clip = n.getBoundingClientRect();
      if (box.left < clip.left - 0.5 || box.top < clip.top - 0.5 || box.right > clip.right + 0.5 || box.bottom > clip.bottom + 0.5) {
        result.clippedBy = describe(n);
        break;
      }
    }
    if (box.left < -0.5 || box.top < -0.5 || box.right > innerWidth + 0.5 || box.bottom > innerHeight + 0.5) {
      result.clippedBy = result.clippedBy || "the viewport";
    }
    return result;
  }

  return { texts: texts, controls: controls, ring: ring, describe: describe };
})();
