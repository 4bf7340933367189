/*
 * Haven widget: the network. Two places only: the Rasa server's standard REST channel
 * (POST /webhooks/rest/webhook at data-rasa-url), and the website server that served the script
 * (crisis numbers for the visitor's region, deleting a conversation). Never credentials, never a
 * referrer: the page the visitor was reading is nobody's business.
 */
(function (haven) {
  "use strict";
  if (!haven) { return; }

  var TIMEOUT_MS = 30000;
  var SENDER_ID = /^[A-Za-z0-9_-]{16,64}$/;

  function timezone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || null; } catch (e) { return null; }
  }

  /** config: {rasaUrl, siteUrl, locale}. */
  haven.transport = function (config) {
    /** One message to Rasa, with the visitor's locale and time zone as metadata: its replies. */
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

    /** The crisis resources of the visitor's region (GET /api/crisis-resources), unchecked. */
    function crisisResources() {
      return fetch(config.siteUrl + "/api/crisis-resources?locale=" + encodeURIComponent(config.locale), {
        credentials: "omit", referrerPolicy: "no-referrer", cache: "no-store"
      }).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      });
    }

    /** Delete a conversation on the server (not only restart it); fire and forget. */
    function forget(sender, beacon) {
      if (!SENDER_ID.test(sender || "")) { return; }
      var url = config.siteUrl + "/api/conversations/" + encodeURIComponent(sender) + "/forget";
      try {
        if (beacon && navigator.sendBeacon && navigator.sendBeacon(url)) { return; }
        fetch(url, { method: "POST", credentials: "omit", referrerPolicy: "no-referrer", keepalive: true })
          .catch(function () { /* best effort: the id is never reused */ });
      } catch (e) { /* best effort */ }
    }

    return { post: post, crisisResources: crisisResources, forget: forget };
  };
})(window.__havenWidget);
