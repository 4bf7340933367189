// A stock socket.io-client 4 (npm, tests/js) with its DEFAULT options, as any outside client uses it:
// long-polling first, then the upgrade to WebSocket. It waits for the upgrade, asks for a session the
// way Rasa's socket.io channel expects (session_request / session_confirm), sends one message and
// prints, as one JSON line, the transport in use, the replies (bot_uttered) and how many HTTP polls
// were made: a half-upgraded session polls hundreds of times a second (issue 11).
//
// node tests/socketio_client.js <rasa url> <origin> <message>   (NODE_PATH=tests/js/node_modules)
"use strict";
const { io } = require("socket.io-client");

const [url, origin, message] = process.argv.slice(2);
const result = { transport: null, upgraded: false, confirmed: false, replies: [], errors: [], polls: 0 };
const done = (code) => {
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(code);
};
const socket = io(url, { extraHeaders: { Origin: origin }, reconnection: false });
socket.io.on("open", () => {
  const transport = socket.io.engine.transport;
  result.transport = transport.name;
  // Count the HTTP requests of the polling transport (each poll emits "poll").
  transport.on("poll", () => (result.polls += 1));
  socket.io.engine.on("upgrade", (t) => {
    result.transport = t.name;
    result.upgraded = true;
    start();
  });
});
let started = false;
const sessionId = "node-" + Math.random().toString(16).slice(2) + Date.now().toString(16);
function start() {
  if (started) return;
  started = true;
  socket.emit("session_request", { session_id: sessionId });
}
socket.on("session_confirm", () => {
  result.confirmed = true;
  socket.emit("user_uttered", { session_id: sessionId, message });
});
socket.on("bot_uttered", (data) => {
  result.replies.push(data);
  // The answer to a topic question ends with its machine-readable payload; give the rest 0.5 s.
  if (data && data.custom) setTimeout(() => done(0), 500);
});
socket.on("connect_error", (error) => result.errors.push(String(error && error.message)));
socket.on("disconnect", (reason) => result.errors.push("disconnect: " + reason));
// No upgrade within 10 s: carry on over polling so the output says what happened.
setTimeout(start, 10000);
setTimeout(() => {
  result.errors.push("timed out");
  done(1);
}, 30000);
