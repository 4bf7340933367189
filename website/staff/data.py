"""What the staff pages read: the database, always in a worker thread, and the reference secret.

Why it is built this way:
- The database is reached only through haven.db (repository, inbox, staff_accounts) in a worker
  thread, because every call blocks; the schema is brought up to date first, by the one
  haven.db.migrate.ensure_schema every server uses, and a database that is down becomes
  DatabaseUnavailable, which the guard (views.py) answers with a calm 503.
- KINDS maps the URL names to repository functions by name, looked up at call time, so that one
  table serves the inbox, the CSV export and the JSON API (and a test can replace a function).
- A conversation id is the visitor's capability (issue 12): staff see a keyed hash of it instead,
  made with the secret read here once per app (haven/services/references.py).
"""

from __future__ import annotations

import asyncio
import logging
from functools import partial
from typing import Any, Callable, Dict

from sanic import Sanic
from sanic.request import Request

from haven.db import migrate, repository
from haven.db.repository import DatabaseUnavailable
from haven.services import references

log = logging.getLogger(__package__)  # "website.staff" in every module of the package, as before the split

#: URL name -> (repository list function name, record class). Looked up at call time.
KINDS: Dict[str, tuple] = {
    "bookings": ("list_bookings", repository.BookingRecord),
    "handoffs": ("list_handoffs", repository.HandoffRecord),
    "safety-events": ("list_safety_events", repository.SafetyEventRecord),
}


async def ensure_schema(app: Sanic) -> bool:
    """Run the migrations once per app; retried on the next staff request if the database was down.

    A thin async wrapper of haven.db.migrate.ensure_schema: the app's flag spares every request
    a trip to a worker thread, and a failure is a False (staff pages answer 503), never an error,
    because the site must start and serve its public pages while the database is down.
    """
    if getattr(app.ctx, "schema_ready", False):
        return True
    url = app.ctx.settings.database_url
    try:
        await asyncio.get_running_loop().run_in_executor(None, migrate.ensure_schema, url)
    except Exception as error:  # noqa: BLE001 - a server must start even when the database is down
        log.error(
            "could not bring the database schema up to date (%s); staff pages answer 503 until it works",
            error.__class__.__name__,
        )
        return False
    app.ctx.schema_ready = True
    return True


async def db(request: Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args, url=the app's database, **kwargs) in a worker thread, once the schema is in place."""
    if not await ensure_schema(request.app):
        raise DatabaseUnavailable("schema not ready")
    call = partial(fn, *args, url=request.app.ctx.settings.database_url, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, call)


def lister(kind: str) -> Callable[..., Any]:
    """The repository's list function for a URL kind (looked up now, not at import)."""
    return getattr(repository, KINDS[kind][0])


class SecretUnavailable(RuntimeError):
    """The reference secret could not be read or made (var/ not writable, a damaged file)."""


def reference_key(app: Sanic) -> str:
    """The app's conversation-reference secret, read (or made) on first use and kept on the app."""
    key = getattr(app.ctx, "reference_key", None)
    if key is None:
        try:
            key = app.ctx.reference_key = references.secret(app.ctx.settings)
        except (OSError, ValueError) as error:
            log.error("staff: the conversation-reference secret is unavailable (%s)", error)
            raise SecretUnavailable(str(error)) from error
    return key
