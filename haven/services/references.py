"""Short, non-reversible references for conversation ids, and the secret behind them.

Why: a conversation id is the visitor's capability (the widget makes it with crypto.randomUUID and
whoever holds it can continue or delete that conversation, issue 12), so staff pages, the CSV and the
JSON API show `HMAC-SHA256(secret, id)` cut to 10 hex characters instead: enough to tell two
conversations apart in an inbox, useless for reaching either.  The same secret signs the calendar
feed's private URL.

The secret is HAVEN_REFERENCE_SECRET when set (several website servers must share one), else a random
one kept in var/reference-secret, created owner-only (0600) on first use, so references stay stable
across restarts.  An existing file keeps its mode: loosening it is the operator's call, and the
launcher's check of var/ names looser files (issue 11.4).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path

from haven.settings import Settings

REFERENCE_LENGTH = 10
MIN_SECRET = 32
_lock = threading.Lock()
_cache: dict[Path, str] = {}


def secret(settings: Settings) -> str:
    """The reference secret: from the environment, else from (or newly into) the owner-only file."""
    if settings.reference_secret:
        if len(settings.reference_secret) < MIN_SECRET:
            raise ValueError(f"HAVEN_REFERENCE_SECRET must be at least {MIN_SECRET} characters long")
        return settings.reference_secret
    path = settings.reference_secret_file
    with _lock:
        if path not in _cache:
            _cache[path] = _read_or_create(path)
        return _cache[path]


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting at once, one creates the file and the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="ascii").strip()
        if len(value) < MIN_SECRET:
            raise ValueError(f"{path} holds no usable secret; delete it and a new one is made") from None
        return value
    value = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value


def conversation_reference(conversation_id: str | None, key: str) -> str | None:
    """`C-` and 10 hex characters of HMAC-SHA256(key, id); None for no conversation."""
    if not conversation_id:
        return None
    mac = hmac.new(
        key.encode("utf-8"),
        b"conversation|" + conversation_id.encode("utf-8", "surrogatepass"),
        hashlib.sha256,
    )
    return "C-" + mac.hexdigest()[:REFERENCE_LENGTH]


def feed_key(key: str) -> str:
    """The path part of the private calendar-feed URL (64 hex characters: not guessable)."""
    return hmac.new(key.encode("utf-8"), b"calendar-feed", hashlib.sha256).hexdigest()
