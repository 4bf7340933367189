/*
 * Haven widget: what goes into the page. Visitor and bot text is only ever inserted as text nodes
 * (never parsed as HTML); bot text may carry **bold** and safe links, drawn here as elements. Also the
 * messages of the log with their quick replies and one-tap links, and the crisis numbers.
 */
(function (haven) {
  "use strict";
  if (!haven) { return; }

  // Buttons that are links, not answers: call, text (with its keyword) or a web page.
  var LINK_PAYLOAD = /^(tel:\+?[0-9]{3,15}|sms:\+?[0-9]{3,15}(\?&body=[A-Za-z0-9]{1,20})?|https:\/\/[^\s<>"']+)$/;
  var CATEGORIES = ["suicide", "self_harm", "danger"];
  // **bold**, [label](url) and bare http(s) URLs; everything else is text.
  var TOKEN = /(\*\*[^*\n]+\*\*|\[[^\]\n]+\]\([^)\s]+\)|https?:\/\/[^\s<>\u0022\u0027]+)/g;
  var SAFE_URL = /^(https?:\/\/|mailto:|tel:)/i;

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

  /** Copies the booking reference; the label then says it was copied (read out: aria-live). */
  function referenceButton(t, reference) {
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

  /** A function that draws one stored message as a row of the log. `choose(button)` is called when
   * the visitor picks a quick reply. */
  function messages(words, config, choose) {
    var t = words.t, parts = words.parts;
    var TITLE = { title: config.title };
    return function (message) {
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
        row = el("p", { "class": "haven-reference" }, [referenceButton(t, message.reference)]);
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
            b.addEventListener("click", function () { choose(button); });
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
      return row;
    };
  }

  /* ------------------------------------------------------------------ crisis numbers (safety/hotlines.yml) */

  function isText(value) { return typeof value === "string" && value.length > 0 && value.length < 500; }

  /** Is `r` a region's resources as GET /api/crisis-resources gives them, complete enough to show? */
  function isResources(r) {
    return !!r && isText(r.emergency) && isText(r.emergency_number) && isText(r.help_number) &&
      !!r.lines && CATEGORIES.every(function (c) { return Array.isArray(r.lines[c]) && r.lines[c].filter(isText).length > 0; });
  }

  /** The notice and the crisis banner's numbers and lines, from one region's resources. */
  function resources(words, nodes, r, category) {
    var t = words.t, parts = words.parts;
    replaceChildren(nodes.notice, parts("notice", {
      help_number: telLink(r.help_number), emergency_number: telLink(r.emergency_number)
    }));
    replaceChildren(nodes.crisisActions, [
      telLink(r.help_number, t("crisis_call", { number: r.help_number })),
      telLink(r.emergency_number, t("crisis_call", { number: r.emergency_number }))
    ]);
    category = CATEGORIES.indexOf(category) >= 0 ? category : "suicide";
    replaceChildren(nodes.crisisBody, r.lines[category].filter(isText).map(function (line) { return el("p", { text: line }); }));
  }

  haven.render = {
    LINK_PAYLOAD: LINK_PAYLOAD, CATEGORIES: CATEGORIES, el: el, replaceChildren: replaceChildren, link: link,
    richText: richText, messages: messages, isResources: isResources, resources: resources
  };
})(window.__havenWidget);
