"""Bad input at every entrance of the real servers (started by the real launcher): the REST channel,
the socket.io channel, the staff API, and the booking form's slots. Nothing may crash, answer 500
or hang, and every server must keep answering afterwards."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import urllib.error
import urllib.request
import uuid
from typing import Any, Dict, List, Tuple

import pytest

from actions.knowledge import knowledge_base
from haven_devtools import rest_client
from tests.test_conversations import Visitor, buttons, customs, texts

pytestmark = [pytest.mark.e2e, pytest.mark.model]
KB = knowledge_base()
FILLER = "He lied to me for years and I still miss him, I don't understand why I feel this way. "
TOO_LONG = "only read the first part"
EMPTY = "didn't receive any words"
# Distinctive things typed below that must never reach the server logs (checked at the end).
SECRET_WORDS = ["zephyrine-quokka", "Quillon O'Vexley", "quillon.vexley@example.org"]


@pytest.fixture(scope="module", autouse=True)
def log_start(live_haven) -> int:
    """Where the servers' log stood before this module: only what follows is checked at the end."""
    return len(live_haven.log.read_bytes())


def raw_post(url: str, body: bytes, content_type: str = "application/json") -> Tuple[int, Any, float]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type}, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    elapsed = time.perf_counter() - started
    try:
        return status, json.loads(payload), elapsed
    except ValueError:
        return status, payload, elapsed


def rest(live, body: Any) -> Tuple[int, Any, float]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw_post(rest_client.webhook(live.rasa), data)


def still_answers(live) -> None:
    replies = Visitor(live).say("why do I still feel attached to him?")
    assert {"topic": "why_still_attached", "section": ""} in customs(replies)


# --------------------------------------------------------------------------- REST channel

MALFORMED = [
    (b"", "empty_body"),
    (b"{", "invalid_json"),
    (b"\xff\xfe\x00", "invalid_json"),
    (b"[]", "expected_json_object"),
    (b"42", "expected_json_object"),
    (b'{"sender": [1], "message": "hi"}', "invalid_sender"),
    (b'{"sender": "x' + b"y" * 500 + b'", "message": "hi"}', "invalid_sender"),
    (b'{"sender": "\\ud800", "message": "hi"}', "invalid_sender"),
    (b'{"sender": "a", "message": {"text": "hi"}}', "invalid_message"),
    (b'{"sender": "a", "message": "hi", "metadata": 7}', "invalid_metadata"),
]


@pytest.mark.parametrize(("body", "code"), MALFORMED)
def test_malformed_rest_requests_get_400_with_a_json_error(live_haven, body, code) -> None:
    status, payload, elapsed = rest(live_haven, body)
    assert (status, payload) == (400, {"error": code})
    assert elapsed < 5


HOSTILE = [
    ("", EMPTY),
    (" \n\t ", EMPTY),
    ("\ud800", EMPTY),
    ("\u202e\u2066\u200b", EMPTY),
    ("\x00\x07\x1b\x7f", EMPTY),
    ("hi\x00 there\x1b[0m", None),
    ("why do I still feel \ud800 attached to him", None),
    ("\u202ewhy do I still feel attached to him\u202c", None),
    ("😀😢💔", None),
    ("¿Por qué sigo sintiendo apego después de lo que hizo?", None),
    ("为什么我还是放不下他", None),
    ("لماذا ما زلت متعلقة به", None),
    ("'; DROP TABLE bookings; --", None),
    ("<script>alert(1)</script><img src=x onerror=alert(2)>", None),
    ("{{7*7}} ${jndi:ldap://127.0.0.1/a} %s%n %(x)s", None),
    ('/inform{"time_choice": "\'; DROP TABLE x"}', None),
    ("/nonexistent_intent", None),
    (42, None),
]


@pytest.mark.parametrize(("message", "expected"), HOSTILE)
def test_hostile_messages_get_a_real_answer(live_haven, message, expected) -> None:
    status, replies, elapsed = rest(live_haven, {"sender": uuid.uuid4().hex, "message": message})
    assert status == 200 and elapsed < 15
    assert replies, "every message gets an answer"
    assert all("text" in r or "custom" in r for r in replies)
    if expected:
        assert expected in texts(replies)
    assert not any("safety" in c for c in customs(replies)), "no false crisis alarm"


def test_a_100000_character_message_gets_a_kind_answer_quickly(live_haven) -> None:
    text = (FILLER * 2000)[:100_000]
    status, replies, elapsed = rest(live_haven, {"sender": uuid.uuid4().hex, "message": text})
    print(f"\n100 000-character message answered through REST in {elapsed:.2f}s")
    assert status == 200 and TOO_LONG in texts(replies)
    assert "988" in texts(replies), "the long-message answer says where help is"
    assert elapsed < 5
    still_answers(live_haven)


@pytest.mark.parametrize("alphabet", ["😀", "я", "\ud800x"])
def test_100000_characters_of_any_script_are_answered(live_haven, alphabet) -> None:
    status, replies, elapsed = rest(live_haven, {"sender": uuid.uuid4().hex, "message": alphabet * 50_000})
    assert status == 200 and replies and elapsed < 10


@pytest.mark.parametrize("position", [10, 900, 15_000])
def test_crisis_language_in_a_long_message_gets_the_crisis_reply(live_haven, position) -> None:
    text = (FILLER * 1200)[:60_000]
    text = text[:position] + " honestly I want to kill myself. " + text[position:]
    status, replies, _ = rest(live_haven, {"sender": uuid.uuid4().hex, "message": text})
    assert status == 200
    assert {"safety": "crisis", "category": "suicide"} in customs(replies)
    assert "988" in texts(replies)


def test_a_rest_request_without_sender_gets_its_own_conversation(live_haven) -> None:
    _, first, _ = rest(live_haven, {"message": "hi"})
    _, second, _ = rest(live_haven, {"message": "hi"})
    assert first[0]["recipient_id"] != second[0]["recipient_id"]


def test_the_rasa_server_keeps_answering_after_the_bad_input(live_haven) -> None:
    still_answers(live_haven)


# --------------------------------------------------------------------------- socket.io channel


class SocketVisitor:
    """A socket.io client (python-socketio) on the polling transport.

    (The client's websocket transport needs a newer aiohttp than Rasa 3.6 pins; the server side is
    the same for both transports.)"""

    def __init__(self, live) -> None:
        import socketio

        self.url = live.rasa
        self.client = socketio.AsyncClient(reconnection=False)
        self.received: List[Any] = []
        self.confirmed: List[Any] = []

        @self.client.on("bot_uttered")
        async def bot_uttered(data) -> None:
            self.received.append(data)

        @self.client.on("session_confirm")
        async def session_confirm(data) -> None:
            self.confirmed.append(data)

    async def __aenter__(self) -> "SocketVisitor":
        await self.client.connect(self.url, transports=["polling"], wait_timeout=10)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        try:  # on polling the client waits out a 25 s long poll before it lets go
            await asyncio.wait_for(self.client.disconnect(), 2)
        except TimeoutError:
            http = getattr(self.client.eio, "http", None)
            if http is not None and not http.closed:
                await http.close()

    async def wait(self, predicate, timeout: float = 20.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            await asyncio.sleep(0.1)
        return predicate()

    async def start_session(self, data: Any = None) -> str:
        session = uuid.uuid4().hex
        before = len(self.confirmed)  # earlier requests (the malformed ones too) were confirmed already
        await self.client.emit("session_request", {"session_id": session} if data is None else data)
        assert await self.wait(lambda: len(self.confirmed) > before), "no session_confirm"
        return self.confirmed[-1]

    async def say(self, session: str, message: Any, timeout: float = 20.0) -> List[Any]:
        before = len(self.received)
        await self.client.emit("user_uttered", {"session_id": session, "message": message})
        await self.wait(lambda: len(self.received) > before, timeout)
        await asyncio.sleep(0.5)  # the rest of this answer
        return self.received[before:]


def socket_texts(replies: List[Any]) -> str:
    return "\n".join(r.get("text", "") for r in replies if isinstance(r, dict))


def socket_customs(replies: List[Any]) -> List[Dict[str, Any]]:
    return [r["custom"] for r in replies if isinstance(r, dict) and "custom" in r]


def test_socketio_delivers_replies_and_crisis_help(live_haven) -> None:
    async def scenario() -> Tuple[List[Any], List[Any]]:
        async with SocketVisitor(live_haven) as visitor:
            session = await visitor.start_session()
            return await visitor.say(session, "hi"), await visitor.say(session, "I want to kill myself")

    greeting, crisis = asyncio.run(scenario())
    assert "not a therapist" in socket_texts(greeting)
    assert "988" in socket_texts(crisis)
    assert {"safety": "crisis", "category": "suicide"} in socket_customs(crisis)


BAD_EVENTS = [
    ("session_request", None),
    ("session_request", "not an object"),
    ("session_request", [1, 2]),
    ("session_request", {"session_id": {"nested": True}}),
    ("session_request", {"session_id": "\ud800"}),
    ("user_uttered", None),
    ("user_uttered", "hi"),
    ("user_uttered", [1]),
    ("user_uttered", {"message": "no session id"}),
    ("user_uttered", {"session_id": ["x"], "message": "hi"}),
    ("user_uttered", {"session_id": "abc", "message": {"x": 1}}),
    ("user_uttered", {"session_id": "abc", "message": "hi", "metadata": "{not json"}),
    ("no_such_event", {"x": 1}),
]


def test_socketio_survives_malformed_events_and_keeps_answering(live_haven) -> None:
    async def scenario() -> Dict[str, List[Any]]:
        async with SocketVisitor(live_haven) as visitor:
            for event, data in BAD_EVENTS:
                await visitor.client.emit(event, data)
            await asyncio.sleep(1)
            session = await visitor.start_session()
            return {
                "surrogate": await visitor.say(session, "\ud800"),
                "number": await visitor.say(session, 42),
                "long": await visitor.say(session, (FILLER * 2000)[:100_000]),
                "controls": await visitor.say(session, "\u202ewhy do I still feel attached to him\x00"),
            }

    replies = asyncio.run(scenario())
    assert EMPTY in socket_texts(replies["surrogate"])
    assert socket_texts(replies["number"])
    assert TOO_LONG in socket_texts(replies["long"])
    assert {"topic": "why_still_attached", "section": ""} in socket_customs(replies["controls"])
    still_answers(live_haven)


def test_socketio_refuses_a_foreign_origin_for_polling(live_haven) -> None:
    request = urllib.request.Request(
        f"{live_haven.rasa}/socket.io/?EIO=4&transport=polling", headers={"Origin": "https://evil.example"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            headers = response.headers
    except urllib.error.HTTPError as error:
        headers = error.headers
    assert headers.get("Access-Control-Allow-Origin") in (None, "")


def socketio_connect_reply(live, origin: str | None) -> str:
    """The socket.io handshake spoken by hand over polling: open, connect to "/", read the answer.

    (The python-socketio client takes 30 s to give up a refused or closed polling connection.)"""
    headers = {"Origin": origin} if origin else {}
    url = f"{live.rasa}/socket.io/?EIO=4&transport=polling"
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        opened = response.read().decode()
    sid = json.loads(opened[opened.index("{") :])["sid"]
    connect = urllib.request.Request(f"{url}&sid={sid}", data=b"40", headers=headers, method="POST")
    urllib.request.urlopen(connect, timeout=10).read()
    with urllib.request.urlopen(
        urllib.request.Request(f"{url}&sid={sid}", headers=headers), timeout=30
    ) as response:
        return response.read().decode()


@pytest.mark.parametrize(
    ("origin", "accepted"), [("https://evil.example", False), (None, True), ("own", True)]
)
def test_socketio_connections_from_a_foreign_page_are_refused(live_haven, origin, accepted) -> None:
    if origin == "own":
        origin = f"http://localhost:{live_haven.settings.site_port}"
    reply = socketio_connect_reply(live_haven, origin)
    # "40{...}" is socket.io's CONNECT, "44{...}" its CONNECT_ERROR.
    assert reply.startswith("40") is accepted and reply.startswith("44") is not accepted, reply


# --------------------------------------------------------------------------- staff API over raw HTTP


def raw_http(port: int, request: bytes, timeout: float = 10) -> Tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        conn.sendall(request)
        data = b""
        while True:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
    match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return (int(match.group(1)) if match else 0), data


STAFF_REQUESTS = [
    b"Authorization: \r\n",
    b"Authorization: Bearer      \r\n",
    b"Authorization: Bearer \x01\x02\x7f\r\n",
    b"Authorization: Bearer t\xe9st\xff\r\n",
    b"Authorization: Bearer \xe2\x80\xaetest-staff-token-0123456789abcdef0123\r\n",
    b"Authorization: Bearer test-staff-token-0123456789abcdef0123\x00\r\n",
    b"Authorization: Bearer " + b"x" * 20_000 + b"\r\n",
    b"Cookie: haven_staff=" + b"v1.99999999999.aa." + b"f" * 64 + b"\r\n",
]


@pytest.mark.parametrize("header", STAFF_REQUESTS, ids=range(len(STAFF_REQUESTS)))
def test_the_staff_api_refuses_bad_credentials_without_a_500(live_haven, header) -> None:
    request = (
        b"GET /staff/api/bookings HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"Connection: close\r\n\r\n"
    )
    status, data = raw_http(live_haven.settings.site_port, request)
    assert status in (400, 401, 413), data[:300]


@pytest.mark.parametrize(
    "path",
    [
        "/staff/api/bookings/99999999999999999999999/handled",
        "/staff/api/safety-events/-5/handled",
        "/staff/api/bookings%27%20OR%201=1--/1/handled",
        "/staff/api/%00/1/handled",
    ],
)
def test_odd_staff_paths_are_not_found_rather_than_a_crash(live_haven, path) -> None:
    request = urllib.request.Request(
        f"{live_haven.site}{path}",
        method="POST",
        headers={"Authorization": "Bearer test-staff-token-0123456789abcdef0123"},
    )
    try:
        urllib.request.urlopen(request, timeout=10)
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
    assert status in (400, 404)


def test_a_json_body_on_the_staff_api_is_ignored_whatever_it_holds(live_haven) -> None:
    status, payload, _ = raw_post(f"{live_haven.site}/staff/api/bookings/1/handled", b'{"id": "\'; DROP')
    assert status == 401


def test_the_website_keeps_answering(live_haven) -> None:
    request = urllib.request.Request(
        f"{live_haven.site}/staff/api/bookings",
        headers={"Authorization": "Bearer test-staff-token-0123456789abcdef0123"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


# --------------------------------------------------------------------------- the booking form's slots


def staff_get(live, path: str) -> Tuple[int, bytes]:
    request = urllib.request.Request(
        f"{live.site}{path}", headers={"Authorization": "Bearer test-staff-token-0123456789abcdef0123"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def test_the_booking_form_takes_hostile_answers_safely(live_haven) -> None:
    visitor = Visitor(live_haven)
    assert "first name" in texts(visitor.say("/book_consultation"))
    for bad_name in ("", "   ", "\ud800", "\u202e\u200b", "x" * 100_000, "a@b.c", "/greet"):
        again = texts(visitor.say(bad_name))
        assert "first name" in again, (bad_name[:20], again)
    name = "Quillon O'Vexley <b>x</b>\u202e\x00 ' OR '1'='1"
    asked = texts(visitor.say(name))
    assert "email address or a phone number" in asked
    for bad_contact in ("", "\ud800", "not sure 😀", "x" * 100_000, "<script>@x", "123"):
        again = texts(visitor.say(bad_contact))
        assert "couldn't read that as an email address or a phone number" in again, bad_contact[:20]
    offer = visitor.say("\u202equillon.vexley@example.org\x00")
    assert any('"none"' in b["payload"] for b in buttons(offer)), texts(offer)
    visitor.say('/inform{"time_choice":"none"}')
    consent = visitor.say("zephyrine-quokka evenings; <script>alert(1)</script> " + "z" * 5000)
    assert any(b["payload"] == "/affirm" for b in buttons(consent)), texts(consent)
    summary = visitor.say("/affirm")
    assert any(b["payload"] == "/affirm" for b in buttons(summary)), texts(summary)
    done = visitor.say("/affirm")
    [booking] = [c["booking"] for c in customs(done) if "booking" in c]

    _, body = staff_get(live_haven, "/staff/api/bookings")
    [stored] = [b for b in json.loads(body)["items"] if b["reference"] == booking["reference"]]
    assert stored["name"] == "Quillon O'Vexley <b>x</b> ' OR '1'='1", (
        "kept as typed, less the control characters"
    )
    assert stored["contact"] == "quillon.vexley@example.org"
    assert stored["time_preference"].startswith("zephyrine-quokka evenings; <script>alert(1)</script>")
    assert len(stored["time_preference"]) <= 200
    _, page = staff_get(live_haven, "/staff")
    assert b"<script>alert(1)</script>" not in page and b"<b>x</b>" not in page
    assert b"Quillon O&#39;Vexley &lt;b&gt;x&lt;/b&gt;" in page
    status, _ = staff_get(live_haven, "/staff/api/bookings")
    assert status == 200, "the bookings table is still there"


@pytest.mark.parametrize(
    "answer",
    [
        "\ud800",
        "x" * 100_000,
        "<script>alert(1)</script>",
        "'; DROP TABLE bookings; --",
        "what is a trauma bond",
    ],
)
def test_a_hostile_answer_to_the_consent_question_is_never_consent(live_haven, answer) -> None:
    visitor = Visitor(live_haven)
    visitor.say("/book_consultation")
    visitor.say("Robin")
    offer = visitor.say("robin@example.org")
    slot = next(
        b["payload"] for b in buttons(offer) if "time_choice" in b["payload"] and '"none"' not in b["payload"]
    )
    assert "agree" in texts(visitor.say(slot))
    again = visitor.say(answer)
    assert "Do you agree" in texts(again), "a kind word, then the consent question again"
    assert booking_payloads(again) == []
    summary = visitor.say("/affirm")
    assert "Here's your request" in texts(summary)


def booking_payloads(replies) -> List[Dict[str, Any]]:
    return [c for c in customs(replies) if "booking" in c]


def test_a_long_free_text_message_for_the_therapist_is_refused_kindly(live_haven) -> None:
    visitor = Visitor(live_haven)
    visitor.say("/leave_message")
    visitor.say("Ash")
    visitor.say("+1 617 555 0100")
    refused = visitor.say("please call me " * 2000)
    assert "message" in texts(refused).lower() and refused


# --------------------------------------------------------------------------- privacy


def test_nothing_typed_here_reached_the_server_logs(live_haven, log_start) -> None:
    logged = live_haven.log.read_bytes()[log_start:].decode(errors="replace")
    for word in SECRET_WORDS + [
        "DROP TABLE",
        "onerror=alert",
        "jndi:ldap",
        "I want to kill myself",
        "nonexistent_intent",
    ]:
        assert word not in logged, f"visitor text in the logs: {word!r}"
    assert "Traceback" not in logged, logged[logged.find("Traceback") - 200 : logged.find("Traceback") + 2000]
