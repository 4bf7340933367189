"""haven.services.notify against a real (tiny, asyncio) SMTP server on a free loopback port."""

from __future__ import annotations

import asyncio
import base64
import email
import logging
import smtplib
import threading
import time
from dataclasses import replace
from email import policy
from typing import List

import pytest

from haven import settings as settings_module
from haven.db import repository
from haven.ops.processes import free_port
from haven.services import notify

VISITOR = "Zelda Quux"
VISITOR_EMAIL = "zelda.quux@example.org"
VISITOR_PHONE = "+1 555 010 0199"
VISITOR_WORDS = "my partner lied about everything"
THERAPIST = "therapist@practice.example"


class TinySmtpServer:
    """Just enough ESMTP (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT) to receive mail.

    silent=True accepts connections and never answers (to test the client's timeout).
    """

    def __init__(self, *, silent: bool = False, auth: bool = False):
        self.silent = silent
        self.auth = auth
        self.messages: List[dict] = []
        self.logins: List[str] = []
        self.connections = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TinySmtpServer:
        self._thread.start()
        assert self._ready.wait(5), "the test SMTP server did not start"
        return self

    def __exit__(self, *_exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.silent:
            await reader.read()  # hold the connection open, say nothing
            writer.close()
            return

        def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")

        say("220 tiny-smtp ready")
        sender, recipients = None, []
        while True:
            raw = await reader.readline()
            if not raw:
                break
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                say("250-tiny-smtp")
                if self.auth:
                    say("250-AUTH PLAIN")
                say("250 8BITMIME")
            elif verb == "AUTH":
                self.logins.append(base64.b64decode(line.split()[2]).decode())
                say("235 2.7.0 Authentication successful")
            elif line.upper().startswith("MAIL FROM:"):
                sender = line[10:].strip()
                say("250 OK")
            elif line.upper().startswith("RCPT TO:"):
                recipients.append(line[8:].strip())
                say("250 OK")
            elif verb == "DATA":
                say("354 End data with <CR><LF>.<CR><LF>")
                await writer.drain()
                data = bytearray()
                while True:
                    chunk = await reader.readline()
                    if chunk in (b".\r\n", b""):
                        break
                    data += chunk[1:] if chunk.startswith(b"..") else chunk
                self.messages.append({"from": sender, "to": recipients, "data": bytes(data)})
                sender, recipients = None, []
                say("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                say("250 OK")
            elif verb == "QUIT":
                say("221 Bye")
                await writer.drain()
                break
            else:
                say("502 Command not implemented")
            await writer.drain()
        writer.close()


def smtp_settings(port: int, **env: str) -> settings_module.Settings:
    values = {
        "HAVEN_SMTP_HOST": "127.0.0.1",
        "HAVEN_SMTP_PORT": str(port),
        "HAVEN_SMTP_FROM": "haven@practice.example",
        "HAVEN_NOTIFY_TO": THERAPIST,
        "HAVEN_SMTP_STARTTLS": "false",
        "HAVEN_SITE_ORIGIN": "https://therapist.example.org",
        **env,
    }
    return settings_module.load({k: v for k, v in values.items() if v is not None})


def assert_no_visitor_data(raw: bytes) -> None:
    text = raw.decode("utf-8", "replace")
    # The phone number is checked whole: its digits alone can occur in a random Message-ID.
    for secret in (
        VISITOR,
        "Zelda",
        "Quux",
        VISITOR_EMAIL,
        VISITOR_PHONE,
        "010 0199",
        VISITOR_WORDS,
        "weekday evenings",
    ):
        assert secret not in text, secret


# --------------------------------------------------------------------------- delivery


def test_a_new_booking_mails_only_its_reference(db_url) -> None:
    booking = repository.create_booking(
        name=VISITOR,
        contact_method="email",
        contact=VISITOR_EMAIL,
        timezone="Europe/London",
        consent=True,
        time_preference="weekday evenings",
        url=db_url,
    )
    with TinySmtpServer() as server:
        assert notify.notify("booking", booking, settings=smtp_settings(server.port)) is True
    assert len(server.messages) == 1
    received = server.messages[0]
    assert received["to"] == [f"<{THERAPIST}>"]
    message = email.message_from_bytes(received["data"], policy=policy.default)
    assert booking.reference in message["Subject"]
    body = message.get_content()
    assert booking.reference in body
    assert "https://therapist.example.org/staff" in body
    assert message["Auto-Submitted"] == "auto-generated"
    assert_no_visitor_data(received["data"])


def test_a_new_handoff_mails_only_its_reference(db_url) -> None:
    handoff = repository.create_handoff(
        name=VISITOR, contact_method="phone", contact=VISITOR_PHONE, message=VISITOR_WORDS, url=db_url
    )
    with TinySmtpServer(auth=True) as server:
        settings = smtp_settings(server.port, HAVEN_SMTP_USER="haven-mailer", HAVEN_SMTP_PASSWORD="pw-123")
        assert notify.notify("handoff", handoff.reference, settings=settings) is True
    assert server.logins == ["\x00haven-mailer\x00pw-123"]
    message = email.message_from_bytes(server.messages[0]["data"], policy=policy.default)
    assert handoff.reference in message["Subject"] and handoff.reference in message.get_content()
    assert_no_visitor_data(server.messages[0]["data"])


def test_several_recipients_and_the_background_helper() -> None:
    with TinySmtpServer() as server:
        settings = smtp_settings(server.port, HAVEN_NOTIFY_TO=f"{THERAPIST}, assistant@practice.example")
        notify.notify_in_background("booking", "HV-7K3Q9P", settings=settings).join(10)
    assert server.messages[0]["to"] == [f"<{THERAPIST}>", "<assistant@practice.example>"]


# --------------------------------------------------------------------------- failures never raise


def test_unreachable_smtp_returns_false(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="haven.services.notify")
    started = time.monotonic()
    nobody = free_port()  # nothing listens there
    assert notify.notify("booking", "HV-7K3Q9P", settings=smtp_settings(nobody)) is False
    assert time.monotonic() - started < 5
    assert "HV-7K3Q9P" in caplog.text and "ConnectionRefusedError" in caplog.text


def test_a_silent_server_times_out_quickly() -> None:
    with TinySmtpServer(silent=True) as server:
        started = time.monotonic()
        assert (
            notify.notify("handoff", "HR-7K3Q9P", settings=smtp_settings(server.port), timeout=0.5) is False
        )
        assert time.monotonic() - started < 3
        assert server.connections == 1


def test_starttls_is_required_by_default(caplog) -> None:
    with TinySmtpServer(auth=True) as server:
        settings = smtp_settings(
            server.port, HAVEN_SMTP_STARTTLS=None, HAVEN_SMTP_USER="u", HAVEN_SMTP_PASSWORD="secret-pw"
        )
        assert settings.smtp_starttls is True
        assert notify.notify("booking", "HV-7K3Q9P", settings=settings) is False
    assert server.messages == [] and server.logins == []
    assert "secret-pw" not in caplog.text


def test_free_text_never_becomes_an_email(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="haven.services.notify")
    with TinySmtpServer() as server:
        settings = smtp_settings(server.port)
        assert notify.notify("booking", f"{VISITOR} <{VISITOR_EMAIL}>", settings=settings) is False
        assert notify.notify("booking", "HV-7K3Q9P\nBcc: x@evil.example", settings=settings) is False
        assert notify.notify("safety_event", "HV-7K3Q9P", settings=settings) is False
        assert notify.notify(["booking"], "HV-7K3Q9P", settings=settings) is False
        assert notify.notify("booking", None, settings=settings) is False
    assert server.connections == 0 and server.messages == []
    assert VISITOR not in caplog.text and VISITOR_EMAIL not in caplog.text


def test_a_broken_content_file_returns_false(tmp_path) -> None:
    (tmp_path / notify.NOTIFICATIONS_FILE).write_text(
        "booking:\n  subject: 'New {reference}'\n  body: 'Hello {name}'\n"
        "handoff:\n  subject: 'x {reference}'\n  body: 'y'\n",
        encoding="utf-8",
    )
    with pytest.raises(notify.NotificationContentError, match=r"booking\.body.*name"):
        notify.load_templates(tmp_path)
    with TinySmtpServer() as server:
        settings = replace(smtp_settings(server.port), content_dir=tmp_path)
        assert notify.notify("booking", "HV-7K3Q9P", settings=settings) is False
    assert server.connections == 0


def test_the_shipped_wording_is_valid() -> None:
    templates = notify.load_templates(settings_module.load({}).content_dir)
    for kind in notify.KINDS:
        assert "{reference}" in templates[kind]["subject"] + templates[kind]["body"]
        assert "{inbox_url}" in templates[kind]["body"]


# --------------------------------------------------------------------------- not configured


@pytest.mark.parametrize(
    "env",
    [{}, {"HAVEN_SMTP_HOST": "127.0.0.1"}, {"HAVEN_NOTIFY_TO": THERAPIST}],
    ids=["nothing", "host-only", "recipient-only"],
)
def test_not_configured_makes_no_attempt(monkeypatch, env) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("no SMTP connection may be attempted")

    monkeypatch.setattr(smtplib, "SMTP", refuse)
    monkeypatch.setattr(smtplib, "SMTP_SSL", refuse)
    settings = settings_module.load(env)
    assert notify.is_configured(settings) is False
    assert notify.notify("booking", "HV-7K3Q9P", settings=settings) is False


# --------------------------------------------------------------------------- settings


def test_smtp_settings_defaults_and_parsing() -> None:
    defaults = settings_module.load({})
    assert defaults.smtp_host is None and defaults.notify_to is None
    assert defaults.smtp_port == 587 and defaults.smtp_starttls is True
    custom = settings_module.load(
        {
            "HAVEN_SMTP_HOST": "mail.example",
            "HAVEN_SMTP_PORT": "465",
            "HAVEN_SMTP_STARTTLS": "no",
            "HAVEN_SMTP_PASSWORD": "hunter2",
        }
    )
    assert (custom.smtp_host, custom.smtp_port, custom.smtp_starttls) == ("mail.example", 465, False)
    assert "hunter2" not in repr(custom)
    with pytest.raises(ValueError, match="HAVEN_SMTP_STARTTLS"):
        settings_module.load({"HAVEN_SMTP_STARTTLS": "maybe"})
    with pytest.raises(ValueError, match="HAVEN_SMTP_PORT"):
        settings_module.load({"HAVEN_SMTP_PORT": "70000"})
