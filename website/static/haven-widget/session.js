/*
 * Haven widget: the conversation kept across reloads, in sessionStorage only, so it is gone when the
 * tab closes. Nothing is ever written to localStorage or cookies (the privacy rule): this module is
 * the only one that stores anything, so that rule can be checked in one place.
 */
(function (haven) {
  "use strict";
  if (!haven) { return; }

  var STORE_KEY = "haven-widget:v1";

  function newSender() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function fresh() {
    return { sender: newSender(), messages: [], crisis: false, category: null, greeted: false, open: false };
  }

  function load() {
    try {
      var raw = window.sessionStorage.getItem(STORE_KEY);
      var saved = raw ? JSON.parse(raw) : null;
      if (saved && typeof saved.sender === "string" && Array.isArray(saved.messages)) { return saved; }
    } catch (e) { /* storage blocked or corrupt: start afresh */ }
    return fresh();
  }

  function save(state) {
    try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }

  function forget() {
    try { window.sessionStorage.removeItem(STORE_KEY); } catch (e) { /* nothing stored */ }
  }

  haven.session = { fresh: fresh, load: load, save: save, forget: forget };
})(window.__havenWidget);
