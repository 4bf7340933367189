/*
 * Haven widget: its words. Every visible or spoken word is in content/widget.yml, which the website
 * server puts into haven-widget.js as it serves it (website/widget.py); this module only picks the
 * visitor's locale and fills placeholders. The other modules look copy up by a literal key only (a
 * string literal as the first argument of t or parts), so tests/test_widget_copy.py sees every key used.
 */
(function (haven) {
  "use strict";
  if (!haven) { return; }

  /** The words for `locale` from the served data: {lang, t, parts}. */
  haven.copy = function (data, locale) {
    /** en-GB -> "en-gb", then "en", then the default locale. */
    function pickLocale(wanted) {
      wanted = String(wanted || "").toLowerCase().replace(/_/g, "-");
      var candidates = [wanted, wanted.split("-")[0], data.default_locale];
      for (var i = 0; i < candidates.length; i++) {
        if (candidates[i] && data.copy[candidates[i]]) { return candidates[i]; }
      }
      return data.default_locale;
    }

    var lang = pickLocale(locale);

    function template(key) {
      var own = data.copy[lang] || {};
      var text = own[key] !== undefined ? own[key] : data.copy[data.default_locale][key];
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

    return { lang: lang, t: t, parts: parts };
  };
})(window.__havenWidget);
