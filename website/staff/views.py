"""How every staff route answers: its pages, its refusals, the sign-in form and the guard.

Why it is built this way:
- One guard (`guarded(api=, write=)`) wraps every staff handler, the FAQ page's too
  (website/faq_admin.py gets it as a parameter): no credential is a 401 (JSON, or the sign-in
  page), a bad CSRF token or a foreign Origin is a 403, a database that is down is a calm 503
  rather than a traceback. The bearer token is accepted only once HAVEN_STAFF_TOKEN is set (else
  the JSON API says 503).
- The handlers are plain module functions (website/staff/routes.py); the Jinja environment they
  render with is the blueprint's, which a request middleware puts on `request.ctx` (templates()).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from functools import wraps
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from haven.db import staff_accounts as accounts
from haven.db.repository import DatabaseUnavailable
from website import staff_auth
from website.staff.data import SecretUnavailable, db
from website.staff.session import CSRF_FIELD, LOGIN_COOKIE, authenticate, csrf_ok, set_cookie

log = logging.getLogger(__package__)  # "website.staff" in every module of the package, as before the split

DISABLED_MESSAGE = "The staff inbox is disabled until HAVEN_STAFF_TOKEN is set on the server."
UNAUTHORISED_MESSAGE = "Staff credentials required: send Authorization: Bearer <HAVEN_STAFF_TOKEN>."
UNAVAILABLE_MESSAGE = "The database is not available right now; please try again in a moment."
NOT_FOUND_MESSAGE = "No such item."

#: The errors that mean "the database is not there right now" (sign-in answers them with a 503 page) ...
DATABASE_ERRORS = (DatabaseUnavailable, SQLAlchemyError)
#: ... and those a guarded route answers so, the reference secret (kept beside the database) included.
UNAVAILABLE_ERRORS = (*DATABASE_ERRORS, SecretUnavailable)


def templates(request: Request) -> Environment:
    """The Jinja environment of the staff blueprint serving this request."""
    return request.ctx.staff_templates


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTTPResponse:
    """templates/staff/<name>.html as an HTML response."""
    html = templates(request).get_template(f"staff/{name}.html").render(**context)
    return response.html(html, status=status)


def refuse(request: Request, api: bool, status: int, reason: str, message: str) -> HTTPResponse:
    """A refusal in the caller's language: JSON with `message` for the API, the message page else."""
    if api:
        headers = {"WWW-Authenticate": 'Bearer realm="haven-staff"'} if status == 401 else None
        return response.json({"error": message}, status=status, headers=headers)
    return page(request, "message", status=status, reason=reason)


async def login_page(
    request: Request, status: int = 200, error: str | None = None, retry_after: int = 0
) -> HTTPResponse:
    """The sign-in form with a fresh pre-sign-in CSRF cookie (database down: a calm 503)."""
    try:
        no_password = not await db(request, accounts.password_is_set)
    except DATABASE_ERRORS:
        return page(request, "message", status=503, reason="unavailable")
    csrf = secrets.token_urlsafe(32)
    html = (
        templates(request)
        .get_template("staff/login.html")
        .render(
            error=error,
            no_password=no_password,
            csrf=csrf,
            csrf_field=CSRF_FIELD,
            username=staff_auth.DEFAULT_USERNAME,
            retry_minutes=max(1, -(-retry_after // 60)),
        )
    )
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    resp = response.html(html, status=status, headers=headers)
    set_cookie(request, resp, LOGIN_COOKIE, csrf, 3600)
    return resp


def guarded(*, api: bool, write: bool = False):
    """No credential -> 401 (JSON, or the sign-in page), bad CSRF or Origin -> 403, database down -> 503.
    The bearer token is accepted only once HAVEN_STAFF_TOKEN is set (else the JSON API says 503)."""

    def decorate(handler):
        @wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            try:
                credential = await authenticate(request)
                if credential is None:
                    if api and not request.app.ctx.settings.staff_token:
                        return refuse(request, api, 503, "disabled", DISABLED_MESSAGE)
                    if api:
                        return refuse(request, api, 401, "unauthorised", UNAUTHORISED_MESSAGE)
                    return await login_page(request, status=401)
                if write and credential.via == "cookie" and not csrf_ok(request, credential.session):
                    log.warning(
                        "staff: refused a browser POST without a valid CSRF token or from another site"
                    )
                    return refuse(
                        request, api, 403, "forbidden", "Cross-site or stale form refused; reload the page."
                    )
                return await handler(request, credential, *args, **kwargs)
            except UNAVAILABLE_ERRORS as error:
                log.warning("staff: database unavailable (%s)", error.__class__.__name__)
                return refuse(request, api, 503, "unavailable", UNAVAILABLE_MESSAGE)

        return wrapper

    return decorate


def display_local(value: datetime | None, zone: str | None) -> str:
    """A time as the visitor read it (her own time zone), for the inbox; "" when unknown."""
    if value is None or not zone:
        return ""
    try:
        return value.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y, %H:%M")
    except (ZoneInfoNotFoundError, ValueError):
        return ""
