"""E-mail the therapist when a booking or hand-off request arrives, if SMTP is configured.

The staff inbox is the record; the e-mail is only a nudge. It travels through mail servers Haven
does not control, so it carries the kind of item and its reference and nothing the visitor gave
(no name, contact or message): the API takes only those two things. The wording lives in
content/notifications.yml.

A booking must never fail because mail is down: notify() never raises, logs failures without
personal data, uses a short socket timeout and returns False. Without HAVEN_SMTP_HOST and
HAVEN_NOTIFY_TO it makes no attempt at all (the inbox alone is the notification).
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import string
import threading
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import urlsplit

import yaml

from haven import settings as settings_module
from haven import yaml_files
from haven.settings import Settings

log = logging.getLogger(__name__)

KINDS = ("booking", "handoff")
NOTIFICATIONS_FILE = "notifications.yml"
#: Seconds for the connection and for each SMTP exchange.
SMTP_TIMEOUT_S = 10.0
_IMPLICIT_TLS_PORT = 465
_PLACEHOLDERS = frozenset({"reference", "inbox_url"})
# References are codes like HV-7K3Q9P; anything else is refused so no free text reaches an e-mail.
_REFERENCE = re.compile(r"[A-Z]{2}-[A-Z0-9]{4,16}")


class NotificationContentError(ValueError):
    """content/notifications.yml is malformed; the message names the entry."""


def is_configured(settings: Settings) -> bool:
    return bool(settings.smtp_host and settings.notify_to)


def load_templates(content_dir: Path) -> Dict[str, Dict[str, str]]:
    """{kind: {"subject": ..., "body": ...}} from the content file, validated."""
    path = Path(content_dir) / NOTIFICATIONS_FILE
    try:
        data = yaml_files.read(path)
    except (OSError, yaml.YAMLError) as error:
        raise NotificationContentError(
            f"{path}: cannot be read as YAML ({error.__class__.__name__})"
        ) from error
    if not isinstance(data, dict):
        raise NotificationContentError(f"{path}: expected a mapping of kinds")
    templates: Dict[str, Dict[str, str]] = {}
    for kind in KINDS:
        entry = data.get(kind)
        if not isinstance(entry, dict):
            raise NotificationContentError(f"{path}: missing entry {kind!r}")
        templates[kind] = {}
        for part in ("subject", "body"):
            text = entry.get(part)
            if not isinstance(text, str) or not text.strip():
                raise NotificationContentError(f"{path}: {kind}.{part} must be non-empty text")
            try:
                fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
            except ValueError as error:
                raise NotificationContentError(f"{path}: {kind}.{part}: {error}") from error
            unknown = fields - _PLACEHOLDERS
            if unknown:
                raise NotificationContentError(
                    f"{path}: {kind}.{part} uses unknown placeholder(s) {sorted(unknown)}; "
                    f"allowed: {sorted(_PLACEHOLDERS)}"
                )
            templates[kind][part] = text
        if "\n" in templates[kind]["subject"].strip():
            raise NotificationContentError(f"{path}: {kind}.subject must be one line")
    return templates


def _recipients(settings: Settings) -> List[str]:
    return [address.strip() for address in (settings.notify_to or "").split(",") if address.strip()]


def _mail_host(settings: Settings) -> str:
    # Given explicitly: smtplib and make_msgid would otherwise ask DNS for our FQDN, which can hang.
    return urlsplit(settings.site_url).hostname or "localhost"


def build_message(kind: str, reference: str, settings: Settings) -> EmailMessage:
    """The e-mail for one new item; ValueError for an unknown kind or a malformed reference."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not isinstance(reference, str) or not _REFERENCE.fullmatch(reference):
        raise ValueError("reference must be a code like HV-7K3Q9P")
    template = load_templates(settings.content_dir)[kind]
    values = {"reference": reference, "inbox_url": settings.site_url.rstrip("/") + "/staff"}
    recipients = _recipients(settings)
    sender = settings.smtp_from or (
        settings.smtp_user if settings.smtp_user and "@" in settings.smtp_user else recipients[0]
    )
    message = EmailMessage()
    message["Subject"] = template["subject"].strip().format(**values)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=_mail_host(settings))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    message.set_content(template["body"].format(**values))
    return message


def _send(message: EmailMessage, settings: Settings, timeout: float) -> None:
    host, port = settings.smtp_host, settings.smtp_port
    context = ssl.create_default_context()
    local = _mail_host(settings)
    if port == _IMPLICIT_TLS_PORT:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, local_hostname=local, timeout=timeout, context=context
        )
    else:
        client = smtplib.SMTP(host, port, local_hostname=local, timeout=timeout)
    with client:
        client.ehlo()
        if settings.smtp_starttls and port != _IMPLICIT_TLS_PORT:
            client.starttls(context=context)  # refuses (raises) rather than send a password in clear
            client.ehlo()
        if settings.smtp_user and settings.smtp_password:
            client.login(settings.smtp_user, settings.smtp_password)
        client.send_message(message)


def notify(
    kind: str, reference: Any, *, settings: Settings | None = None, timeout: float = SMTP_TIMEOUT_S
) -> bool:
    """E-mail the therapist about a new booking or hand-off; True only when the server took it.

    reference: the item's code, or a record with a `.reference` (only that attribute is read).
    Never raises: not configured, bad input and SMTP failures all return False.
    """
    reference = getattr(reference, "reference", reference)
    shown = reference if isinstance(reference, str) and _REFERENCE.fullmatch(reference) else "(malformed)"
    shown_kind = kind if isinstance(kind, str) and kind in KINDS else "(unknown kind)"
    try:
        settings = settings or settings_module.load()
        if not is_configured(settings):
            log.debug("notify: SMTP not configured; %s %s is in the staff inbox only", shown_kind, shown)
            return False
        _send(build_message(kind, reference, settings), settings, timeout)
    except Exception as error:  # noqa: BLE001 - mail must never break a booking
        code = getattr(error, "smtp_code", None)
        log.warning(
            "notify: could not e-mail the therapist about %s %s (%s%s)",
            shown_kind,
            shown,
            error.__class__.__name__,
            f" {code}" if code else "",
        )
        return False
    log.info("notify: e-mailed the therapist about %s %s", shown_kind, shown)
    return True


def notify_in_background(kind: str, reference: Any, *, settings: Settings | None = None) -> threading.Thread:
    """notify() on a daemon thread, so a visitor's reply never waits for the mail server."""
    reference = getattr(reference, "reference", reference)
    thread = threading.Thread(
        target=notify, args=(kind, reference), kwargs={"settings": settings}, name="haven-notify", daemon=True
    )
    thread.start()
    return thread
