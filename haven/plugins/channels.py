"""Rasa's standard REST and socket.io channels, hardened for whatever a client sends (credentials.yml).

Same names, same URLs, same payloads as Rasa's own connectors (`POST /webhooks/rest/webhook`,
socket.io at `/socket.io` with `session_request` / `user_uttered` / `bot_uttered`), so every Rasa
client still works. What differs:

- A malformed REST body (not JSON, not an object, a sender or metadata of the wrong type) gets a
  400 with a JSON error instead of a 500 and a traceback; a malformed socket.io event is ignored.
- The text is cleaned before it reaches the conversation (haven.text.clean_text: lone surrogates,
  control and bidi characters) and cut at MAX_MESSAGE_CHARS, so the tracker, the forms and the
  database never hold a 100 000-character message. What the NLU reads is limited again, and
  answered kindly, by nlu_components/input_guard.py.
- An empty message gets the `empty_message` intent directly (the NLU pipeline cannot featurize
  nothing), which a rule answers kindly.
- A message that would get no reply at all, or half of one, because the action server is
  unreachable or an error stopped the answer, gets `utter_technical_difficulty` (domain.yml, input)
  instead of silence. The crisis reply needs no action server and is sent as before.
- A REST request without a sender gets a fresh conversation, not Rasa's shared "default" one that
  every sender-less client would read and write.
- socket.io with `session_persistence`: Rasa 3.6 calls python-socketio 5's `enter_room` coroutine
  without awaiting it, so the socket never joined its session's room and no reply ever arrived.
  The session request here awaits it. Custom payloads (topic, crisis, booking) arrive over
  socket.io as `{"custom": {...}}` instead of raising TypeError (HavenSocketIOOutput). A browser
  page from another origin than the allowed ones cannot connect (on polling or websocket).
- Text starting with "/" that is not a button payload Rasa can read loses the slash: Rasa would
  log it in full with a warning (command_or_text). A command Rasa can read is accepted only as the
  conversation offered it, and its values pass the crisis check (haven/plugins/commands.py).
- socket.io takeover guard: a `session_request` for a conversation id that another live socket holds
  gets a fresh id (so it never receives that conversation's replies), and a socket may send messages
  only for the conversation it was confirmed for. A client that reconnects after its socket closed
  gets its conversation back. (Per Rasa server process: see README, "Conversation ids".)
- Errors are logged by type only: Rasa's own channel logs the message text with its traceback.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text, Tuple

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from rasa.shared.nlu.constants import (
    ENTITIES,
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from sanic import Blueprint, Sanic, response
from sanic.exceptions import InvalidUsage
from sanic.request import Request
from sanic.response import HTTPResponse

from haven.plugins import commands, sanic_websocket
from haven.text import clean_text, shorten

logger = logging.getLogger(__name__)

sanic_websocket.install()  # socket.io's websocket transport on Sanic 21.12 + Python 3.11

#: Longest message kept in the conversation; the NLU reads less (config.yml, InputGuard).
MAX_MESSAGE_CHARS = 20_000
#: Largest REST body accepted (100 000 emoji written as JSON escapes are about 1.2 MB).
MAX_BODY_BYTES = 2_000_000
MAX_SENDER_CHARS = 128
MAX_METADATA_BYTES = 8_000
EMPTY_INTENT = "empty_message"
KIND_REPLY = "utter_technical_difficulty"

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class BadInput(ValueError):
    """A request field that cannot be used; the argument is the error code sent back."""


def sender_id(value: Any) -> Optional[str]:
    """The conversation id from a client's `sender`/`session_id`; None when absent. BadInput when unusable."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadInput("invalid_sender")
    text = str(value)
    if len(text) > MAX_SENDER_CHARS or clean_text(text) != text:
        raise BadInput("invalid_sender")
    return text


def message_text(value: Any) -> str:
    """The cleaned, length-limited text of a `message` field (absent or null: empty)."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise BadInput("invalid_message")
    return shorten(clean_text(str(value)), MAX_MESSAGE_CHARS)


def _clean_json(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        raise BadInput("invalid_metadata")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_json(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v, depth + 1) for v in value]
    return value


def metadata(value: Any) -> Optional[Dict[str, Any]]:
    """Message metadata (the widget's locale and time zone): an object of bounded size, or None."""
    if value is None:
        return None
    if isinstance(value, str):  # socket.io clients may send it JSON-encoded
        try:
            value = json.loads(value)
        except ValueError as error:
            raise BadInput("invalid_metadata") from error
    if not isinstance(value, dict):
        raise BadInput("invalid_metadata")
    cleaned = _clean_json(value)
    if len(json.dumps(cleaned)) > MAX_METADATA_BYTES:
        raise BadInput("metadata_too_large")
    return cleaned


def empty_parse_data() -> Dict[str, Any]:
    """What the NLU would say about an empty message, without running it (it cannot featurize nothing)."""
    intent = {INTENT_NAME_KEY: EMPTY_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
    return {TEXT: "", INTENT: intent, INTENT_RANKING_KEY: [dict(intent)], ENTITIES: []}


_COMMAND = re.compile(r"^/(?P<intent>[^{@]+)(?P<confidence>@[0-9.]+)?(?P<entities>\{.+\})?$", re.DOTALL)


def command_or_text(text: str, app: Optional[Sanic]) -> str:
    """A message starting with "/" stays a button payload only when Rasa can read it as one.

    Rasa reads "/intent{...}" itself, and logs any other text starting with "/" in full, with a
    warning, before treating it as words: a visitor's "/I can't go on" would land in the logs.
    Such text loses its leading slashes here and is read as the words it is.
    """
    if not text.startswith("/"):
        return text
    domain = getattr(getattr(getattr(app, "ctx", None), "agent", None), "domain", None)
    if domain is None:
        return text
    match = _COMMAND.match(text)
    if match and match["intent"] in domain.intents:
        try:
            float((match["confidence"] or "@1")[1:])
            entities = json.loads(match["entities"]) if match["entities"] else {}
        except ValueError:
            entities = None
        if isinstance(entities, dict) and set(entities) <= set(domain.entities):
            return text
    return text.lstrip("/").strip()


async def user_message(
    text: str,
    output: OutputChannel,
    sender: str,
    channel: str,
    meta: Optional[Dict[str, Any]],
    app: Optional[Sanic] = None,
) -> UserMessage:
    """The message Rasa handles: a command only as the conversation offered it (haven/plugins/commands.py)."""
    text = command_or_text(text, app)
    if not text:
        parse_data: Optional[Dict[str, Any]] = empty_parse_data()
    else:
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        text, parse_data = await commands.screen(text, sender, agent)
    return UserMessage(text, output, sender, input_channel=channel, metadata=meta, parse_data=parse_data)


# Set while a message is handled. Rasa's processor catches an exception from an action (action server
# unreachable, an error in the action) and carries on without its events; the action call itself is
# where the failure can be seen: RemoteAction.run, wrapped once to note it here and re-raise.
_action_failed: ContextVar[Optional[List[bool]]] = ContextVar("haven_action_failed", default=None)


def _notice_action_failures() -> None:
    """Wraps rasa.core.actions.action.RemoteAction.run (Rasa 3.6; idempotent) so that a custom action
    that raises, other than a form's ActionExecutionRejection, is noted for the message being handled.
    The exception goes on to Rasa's processor unchanged."""
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction

    run = RemoteAction.run
    if getattr(run, "_haven_notices_failures", False):
        return

    @functools.wraps(run)
    async def noticed(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
        try:
            return await run(self, *args, **kwargs)
        except ActionExecutionRejection:
            raise
        except Exception:
            flag = _action_failed.get()
            if flag is not None:
                flag.append(True)
            raise

    noticed._haven_notices_failures = True  # type: ignore[attr-defined]
    RemoteAction.run = noticed  # type: ignore[method-assign]


async def handle_with_kind_fallback(
    app: Optional[Sanic], on_new_message: OnNewMessage, message: UserMessage
) -> None:
    """Runs the message through Rasa and sends the kind reply when it got no reply at all, or when an
    action failed on the way (a half answer: "let's book" without the first question) and no crisis
    reply was sent (that one already says where to find help, and stands alone)."""
    _notice_action_failures()
    output = message.output_channel
    sent: List[Dict[Text, Any]] = []
    send_response = output.send_response

    async def counting(recipient_id: Text, payload: Dict[Text, Any]) -> None:
        sent.append(dict(payload))  # a copy: OutputChannel.send_response pops "custom" from the payload
        await send_response(recipient_id, payload)

    failed: List[bool] = []
    token = _action_failed.set(failed)
    output.send_response = counting  # type: ignore[method-assign]
    try:
        await on_new_message(message)
    except Exception as error:  # noqa: BLE001 - the visitor gets the kind reply; the text is never logged
        logger.error("handling a message failed: %s", type(error).__name__)
        failed.append(True)
    finally:
        output.send_response = send_response  # type: ignore[method-assign]
        _action_failed.reset(token)
    crisis = any("safety" in (p.get("custom") or {}) for p in sent if isinstance(p, dict))
    if not sent or (failed and not crisis):
        logger.warning("a message got no full reply (action server unreachable?); sending %s", KIND_REPLY)
        await send_kind_reply(app, output, message.sender_id)


async def send_kind_reply(app: Optional[Sanic], output: OutputChannel, recipient: str) -> None:
    """utter_technical_difficulty, rendered by the Rasa server's own response generator."""
    try:
        agent = app.ctx.agent  # type: ignore[union-attr]
        tracker = await agent.processor.get_tracker(recipient)
        reply = await agent.nlg.generate(KIND_REPLY, tracker, output.name())
        if reply:
            await output.send_response(recipient, reply)
    except Exception as error:  # noqa: BLE001 - nothing more can be done here
        logger.error("could not send the kind reply: %s", type(error).__name__)


def _error(status: int, code: str) -> HTTPResponse:
    return response.json({"error": code}, status=status)


class HavenRestInput(RestInput):
    """Rasa's REST channel (`rest`, POST /webhooks/rest/webhook) with the checks of the module docstring."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def _parse(self, request: Request) -> Tuple[str, str, Optional[Dict[str, Any]]]:
        if len(request.body or b"") > MAX_BODY_BYTES:
            raise BadInput("body_too_large")
        if not request.body or not request.body.strip():
            raise BadInput("empty_body")
        try:
            body = json.loads(request.body)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadInput("invalid_json") from error
        if not isinstance(body, dict):
            raise BadInput("expected_json_object")
        sender = sender_id(body.get("sender")) or uuid.uuid4().hex
        return sender, message_text(body.get("message")), metadata(body.get("metadata"))

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                sender, text, meta = self._parse(request)
            except (BadInput, InvalidUsage) as error:
                code = str(error) if isinstance(error, BadInput) else "invalid_request"
                status = 413 if code == "body_too_large" else 400
                return _error(status, code)

            async def handle(message: UserMessage) -> None:
                await handle_with_kind_fallback(request.app, on_new_message, message)

            if request.args.get("stream", "").lower() == "true":
                return response.stream(
                    self._stream(handle, text, sender, meta, request.app), content_type="text/event-stream"
                )
            collector = self._collector()
            await handle(await user_message(text, collector, sender, self.name(), meta, request.app))
            return response.json(collector.messages)

        return webhook

    @staticmethod
    def _collector() -> OutputChannel:
        from rasa.core.channels.channel import CollectingOutputChannel

        return CollectingOutputChannel()

    def _stream(
        self, handle: OnNewMessage, text: str, sender: str, meta: Optional[Dict[str, Any]], app: Sanic
    ) -> Callable[[Any], Awaitable[None]]:
        import asyncio

        from rasa.core.channels.rest import QueueOutputChannel

        async def stream(resp: Any) -> None:
            queue: asyncio.Queue = asyncio.Queue()

            async def run() -> None:
                output = QueueOutputChannel(queue)
                await handle(await user_message(text, output, sender, self.name(), meta, app))
                await queue.put("DONE")

            task = asyncio.ensure_future(run())
            while True:
                result = await queue.get()
                if result == "DONE":
                    break
                await resp.write(json.dumps(result) + "\n")
            await task

        return stream


class HavenSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output, except for custom payloads.

    Rasa emits a custom payload as keyword arguments of `emit` (for payloads shaped `{"data": …}`),
    so Haven's `{"topic": …}` and `{"safety": "crisis", …}` raised TypeError: the crisis payload never
    reached the client, and the rest of that answer was lost. Here they arrive as `bot_uttered`
    with `{"custom": {…}}`, the element the REST channel returns for them.
    """

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        if "data" in json_message and set(json_message) <= {"data", "room", "to", "namespace"}:
            await super().send_custom_json(recipient_id, json_message, **kwargs)
            return
        await self._send_message(recipient_id, {"custom": json_message})


class HavenSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (`socketio`) with the checks of the module docstring."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    @staticmethod
    def allowed_origins() -> List[str]:
        """The browser origins allowed to connect: haven.settings (HAVEN_CORS_ORIGINS or the site's own)."""
        from haven import settings as settings_module

        return settings_module.load().allowed_origins

    def get_output_channel(self) -> Optional[OutputChannel]:
        """The output for messages the server starts itself (Rasa's reminders, external events)."""
        return HavenSocketIOOutput(self.sio, self.bot_message_evt) if self.sio is not None else None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = super().blueprint(on_new_message)
        sio = self.sio
        app_holder: Dict[str, Sanic] = {}

        @webhook.listener("before_server_start")
        async def remember_app(app: Sanic, _loop: Any) -> None:
            app_holder["app"] = app

        # Registering a handler again for the same event replaces Rasa's.
        rasa_connect = sio.handlers.get(self.namespace or "/", {}).get("connect")
        allowed = {o.lower() for o in self.allowed_origins()}

        @sio.on("connect", namespace=self.namespace)
        async def connect(sid: Text, environ: Dict, auth: Optional[Dict] = None) -> bool:
            # Rasa turns python-engineio's origin check off and leaves CORS to the HTTP layer, which
            # browsers only apply to polling: a page on any site could open the websocket transport.
            # A browser always sends Origin; clients that are not browsers send none and are let in.
            origin = (environ.get("HTTP_ORIGIN") or "").rstrip("/").lower()
            if origin and origin not in allowed:
                logger.warning("socket.io: a connection from a foreign origin was refused")
                return False
            return await rasa_connect(sid, environ, auth) if rasa_connect else True

        # The takeover guard: which live socket holds which conversation (this server process).
        holders: Dict[str, str] = {}  # conversation id -> sid
        held: Dict[str, str] = {}  # sid -> conversation id

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None) -> None:
            data = data if isinstance(data, dict) else {}
            try:
                session = sender_id(data.get("session_id")) or uuid.uuid4().hex
            except BadInput:
                logger.warning("socket.io: session request with an unusable session id ignored")
                return
            holder = holders.get(session)
            if holder is not None and holder != sid:
                # Another live socket holds this conversation: the newcomer gets a fresh one and never
                # joins the room its replies go to. A client reconnecting after its socket closed finds
                # no holder (disconnect below) and gets its conversation back.
                logger.warning(
                    "socket.io: a conversation another live socket holds was asked for; fresh id given"
                )
                session = uuid.uuid4().hex
            previous = held.get(sid)
            if previous is not None and previous != session:
                holders.pop(previous, None)
                if self.session_persistence:
                    await sio.leave_room(sid, previous, namespace=self.namespace)
            holders[session] = sid
            held[sid] = session
            if self.session_persistence:
                await sio.enter_room(sid, session, namespace=self.namespace)
            await sio.emit("session_confirm", session, room=sid, namespace=self.namespace)

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text, *_reason: Any) -> None:
            session = held.pop(sid, None)
            if session is not None and holders.get(session) == sid:
                del holders[session]

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None) -> None:
            if not isinstance(data, dict):
                logger.warning("socket.io: a message event that is not an object was ignored")
                return
            try:
                if self.session_persistence:
                    sender = sender_id(data.get("session_id"))
                    if sender is None:
                        logger.warning("socket.io: a message without a session id was ignored")
                        return
                    if held.get(sid) != sender:
                        # Only the conversation this socket was confirmed for (session_request).
                        logger.warning(
                            "socket.io: a message for a conversation this socket does not hold was ignored"
                        )
                        return
                else:
                    sender = sid
                text = message_text(data.get("message"))
                meta = metadata(data.get(self.metadata_key))
            except BadInput as error:
                logger.warning("socket.io: a message was ignored (%s)", error)
                return
            output = HavenSocketIOOutput(sio, self.bot_message_evt)
            app = app_holder.get("app")
            message = await user_message(text, output, sender, self.name(), meta, app)
            await handle_with_kind_fallback(app, on_new_message, message)

        return webhook
