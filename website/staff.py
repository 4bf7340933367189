"""The therapist's private staff inbox: HTML pages, a JSON API and CSV export.

Why it is built this way:
- Everything is behind HAVEN_STAFF_TOKEN; with no token set nothing staff-only is served at all.
- Scripts send `Authorization: Bearer <token>`; a browser signs in once and then carries a cookie
  holding an expiring HMAC derived from the token (never the token itself), so rotating the token
  signs every browser out.
- Browser POSTs (cookie credential) need a CSRF token bound to the session and must not come from
  a foreign Origin/Referer; SameSite=Strict is the third layer.  Staff pages send
  `Referrer-Policy: same-origin` because under the site-wide `no-referrer` browsers send
  `Origin: null` on form posts, which would hide a same-site post from the check.
- The database is reached only through haven.db.repository and haven.db.inbox, in a worker thread
  (it blocks); when it is down staff get a calm 503 instead of a traceback.
- Counts are the database's (never the length of a listed page), lists are paged with open items
  first, and "mark handled" works on many items at once with an undo (the undo reopens only what
  that one action closed: the items carry its exact time stamp).
- A conversation id is the visitor's capability (issue 12): pages, CSV, JSON and the calendar show
  a short keyed hash of it instead (haven/references.py), never the id.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import hashlib
import hmac
import io
import logging
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import partial, wraps
from typing import Any, Callable, Dict
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.exc import SQLAlchemyError

from haven import content, references
from haven.availability import therapist_timezone
from haven.db import inbox as inbox_db
from haven.db import migrate, repository
from haven.db import staff_accounts as accounts
from haven.db.repository import DatabaseUnavailable
from website import calendar_feed, faq_admin, inbox_view, insights, staff_auth

log = logging.getLogger(__name__)

PREFIX = "/staff"
COOKIE = "haven_staff"
LOGIN_COOKIE = "haven_staff_login"
#: The cookie's own lifetime; the server ends the session sooner (12 h idle, 7 days in all).
SESSION_SECONDS = int(accounts.SESSION_ABSOLUTE.total_seconds())
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_MAX_COOKIE = 256
_MAX_TOKEN = 1024
PAGE_SIZE = 20
API_MAX_LIMIT = 500
API_MAX_OFFSET = 100_000
DEFAULT_INSIGHT_WEEKS = 8

#: URL name -> (repository list function name, record class). Looked up at call time.
KINDS: Dict[str, tuple] = {
    "bookings": ("list_bookings", repository.BookingRecord),
    "handoffs": ("list_handoffs", repository.HandoffRecord),
    "safety-events": ("list_safety_events", repository.SafetyEventRecord),
}

#: Cells a spreadsheet would run as a formula; such cells get a leading apostrophe in CSV exports.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", ";")

DISABLED_MESSAGE = "The staff inbox is disabled until HAVEN_STAFF_TOKEN is set on the server."
UNAUTHORISED_MESSAGE = "Staff credentials required: send Authorization: Bearer <HAVEN_STAFF_TOKEN>."
UNAVAILABLE_MESSAGE = "The database is not available right now; please try again in a moment."
NOT_FOUND_MESSAGE = "No such item."

# --------------------------------------------------------------------------- credentials


def _token_matches(given: str, token: str) -> bool:
    # Sanic decodes header bytes that are not UTF-8 as lone surrogates ("\udce9"): compare them as
    # they came rather than fail with UnicodeEncodeError (a 500 for a wrong token).
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass"))


def csrf_token(session: str) -> str:
    """Derived from the session's secret cookie value, so only its holder can compute it."""
    return hmac.new(session.encode("utf-8", "surrogatepass"), b"haven-staff|csrf", hashlib.sha256).hexdigest()


@dataclasses.dataclass(frozen=True)
class Credential:
    via: str  # "bearer" or "cookie"
    session: str | None = None


async def _authenticate(request: Request) -> Credential | None:
    """A bearer token (scripts, the calendar) or a live server-side session (a signed-in browser)."""
    token = request.app.ctx.settings.staff_token
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return Credential("bearer") if token and _token_matches(value.strip(), token) else None
    session = request.cookies.get(COOKIE)
    if not session or len(session) > _MAX_COOKIE:
        return None
    if await _db(request, accounts.session_user, session) is None:
        return None
    return Credential("cookie", session)


def _same_site(request: Request, url: str) -> bool:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return False
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    configured = request.app.ctx.settings.site_origin
    if configured and origin == configured.rstrip("/").lower():
        return True
    return parts.netloc.lower() == (request.host or "").lower()


def _origin_state(request: Request) -> str:
    """'same', 'foreign' or 'absent' (no Origin and no Referer). `Origin: null` (a sandboxed frame, a
    data: URL, a privacy redirect) is 'foreign': the staff pages send a real Origin on their own posts."""
    origin = request.headers.get("origin", "").strip()
    if origin:
        return "same" if origin != "null" and _same_site(request, origin) else "foreign"
    referer = request.headers.get("referer", "").strip()
    if referer:
        return "same" if _same_site(request, referer) else "foreign"
    return "absent"


def _supplied_csrf(request: Request) -> str:
    supplied = request.headers.get(CSRF_HEADER) or ""
    if not supplied and request.form:
        supplied = request.form.get(CSRF_FIELD) or ""
    return supplied if len(supplied) <= _MAX_COOKIE else ""


def _csrf_ok(request: Request, session: str) -> bool:
    if _origin_state(request) == "foreign":
        return False
    supplied = _supplied_csrf(request)
    return bool(supplied) and hmac.compare_digest(
        supplied.encode("ascii", "replace"), csrf_token(session).encode()
    )


def _login_csrf_ok(request: Request) -> bool:
    """Sign-in has no session yet: the form's token must equal the pre-sign-in cookie (double submit)."""
    if _origin_state(request) == "foreign":
        return False
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    supplied = _supplied_csrf(request)
    return (
        len(cookie) >= 32
        and len(cookie) <= _MAX_COOKIE
        and hmac.compare_digest(supplied.encode("ascii", "replace"), cookie.encode("ascii", "replace"))
    )


def client_address(request: Request) -> str:
    """The forwarded address when HAVEN_PROXIES_COUNT trusts a proxy, else the socket's."""
    return (request.remote_addr or request.ip or "unknown")[:64]


# --------------------------------------------------------------------------- database


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


async def _db(request: Request, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    if not await ensure_schema(request.app):
        raise DatabaseUnavailable("schema not ready")
    call = partial(fn, *args, url=request.app.ctx.settings.database_url, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(None, call)


def _lister(kind: str) -> Callable[..., Any]:
    return getattr(repository, KINDS[kind][0])


# --------------------------------------------------------------------------- presentation helpers


def display_local(value: datetime | None, zone: str | None) -> str:
    if value is None or not zone:
        return ""
    try:
        return value.astimezone(ZoneInfo(zone)).strftime("%a %d %b %Y, %H:%M")
    except (ZoneInfoNotFoundError, ValueError):
        return ""


def csv_cell(value: Any) -> str:
    """One CSV cell as text; formula-looking text is defused for spreadsheets (OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    # NFKC folds the fullwidth ＝＋－＠ (and other compatibility forms) into what a spreadsheet may
    # read as a formula; a leading `;`, tab or newline before one is skipped by some importers.
    folded = unicodedata.normalize("NFKC", text).lstrip(" \n\r\t;")
    if text.startswith(_FORMULA_STARTS) or folded.startswith(_FORMULA_STARTS[:4]):
        text = "'" + text
    return text


def public_columns(kind: str) -> list:
    """The record's fields as staff see them: `conversation_ref` where the record has `conversation_id`."""
    names = [f.name for f in dataclasses.fields(KINDS[kind][1])]
    return [name for name in names if name != "conversation_id"] + (
        ["conversation_ref"] if "conversation_id" in names else []
    )


def public_dict(record: Any, key: str) -> Dict[str, Any]:
    """A record for staff: JSON-ready, the conversation id replaced by its reference (issue 12)."""
    data = record.to_dict()
    if "conversation_id" in data:
        ref = references.conversation_reference(data["conversation_id"], key)
        data = {k: v for k, v in data.items() if k != "conversation_id"} | {"conversation_ref": ref}
    return data


def render_csv(kind: str, records: list, key: str) -> str:
    columns = public_columns(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        values = public_dict(record, key)
        writer.writerow([csv_cell(values[column]) for column in columns])
    return buffer.getvalue()


class SecretUnavailable(RuntimeError):
    """The reference secret could not be read or made (var/ not writable, a damaged file)."""


def _reference_key(app: Sanic) -> str:
    key = getattr(app.ctx, "reference_key", None)
    if key is None:
        try:
            key = app.ctx.reference_key = references.secret(app.ctx.settings)
        except (OSError, ValueError) as error:
            log.error("staff: the conversation-reference secret is unavailable (%s)", error)
            raise SecretUnavailable(str(error)) from error
    return key


def _int_arg(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name, "")
    if not raw.isdigit() or len(raw) > 9:
        return default
    return max(low, min(high, int(raw)))


def _ids_from(values: list) -> list:
    """Whole-number ids from form fields (anything else is ignored; the database checks existence)."""
    ids = []
    for value in values or []:
        for part in str(value).split(","):
            part = part.strip()
            if part.isdigit() and len(part) <= 19:
                ids.append(int(part))
    return ids


def _handled_redirect(kind: str, ids: list, stamp: datetime | None) -> HTTPResponse:
    """Back to the inbox, offering an undo of exactly this action when something changed."""
    query = ""
    if ids and stamp is not None:
        query = "?" + urlencode({"undo": kind, "ids": ",".join(map(str, ids)), "at": stamp.isoformat()})
    return response.redirect(f"{PREFIX}{query}#{kind}", status=303)


# --------------------------------------------------------------------------- blueprint


def create_blueprint(templates: Environment) -> Blueprint:
    """A fresh blueprint per app (sanic ties blueprints to the apps they are registered on)."""
    bp = Blueprint(f"staff_{secrets.token_hex(4)}", url_prefix=PREFIX)

    def page(name: str, status: int = 200, **context: Any) -> HTTPResponse:
        html = templates.get_template(f"staff/{name}.html").render(**context)
        return response.html(html, status=status)

    def refuse(api: bool, status: int, reason: str, message: str) -> HTTPResponse:
        if api:
            headers = {"WWW-Authenticate": 'Bearer realm="haven-staff"'} if status == 401 else None
            return response.json({"error": message}, status=status, headers=headers)
        return page("message", status=status, reason=reason)

    def secure_cookie(request: Request) -> bool:
        origin = request.app.ctx.settings.site_origin or ""
        return request.scheme == "https" or origin.startswith("https://")

    def set_cookie(request: Request, resp: HTTPResponse, name: str, value: str, max_age: int) -> None:
        resp.cookies[name] = value
        cookie = resp.cookies[name]
        cookie["path"] = PREFIX
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["max-age"] = max_age
        if secure_cookie(request):
            cookie["secure"] = True

    async def login_page(
        request: Request, status: int = 200, error: str | None = None, retry_after: int = 0
    ) -> HTTPResponse:
        """The sign-in form with a fresh pre-sign-in CSRF cookie (database down: a calm 503)."""
        try:
            no_password = not await _db(request, accounts.password_is_set)
        except (DatabaseUnavailable, SQLAlchemyError):
            return page("message", status=503, reason="unavailable")
        csrf = secrets.token_urlsafe(32)
        html = templates.get_template("staff/login.html").render(
            error=error,
            no_password=no_password,
            csrf=csrf,
            csrf_field=CSRF_FIELD,
            username=staff_auth.DEFAULT_USERNAME,
            retry_minutes=max(1, -(-retry_after // 60)),
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
                    credential = await _authenticate(request)
                    if credential is None:
                        if api and not request.app.ctx.settings.staff_token:
                            return refuse(api, 503, "disabled", DISABLED_MESSAGE)
                        if api:
                            return refuse(api, 401, "unauthorised", UNAUTHORISED_MESSAGE)
                        return await login_page(request, status=401)
                    if write and credential.via == "cookie" and not _csrf_ok(request, credential.session):
                        log.warning(
                            "staff: refused a browser POST without a valid CSRF token or from another site"
                        )
                        return refuse(
                            api, 403, "forbidden", "Cross-site or stale form refused; reload the page."
                        )
                    return await handler(request, credential, *args, **kwargs)
                except (DatabaseUnavailable, SQLAlchemyError, SecretUnavailable) as error:
                    log.warning("staff: database unavailable (%s)", error.__class__.__name__)
                    return refuse(api, 503, "unavailable", UNAVAILABLE_MESSAGE)

            return wrapper

        return decorate

    @bp.middleware("response")
    async def staff_headers(_: Request, resp: HTTPResponse) -> None:
        # Same-origin referrers let the browser send a real Origin on our own form posts (see top).
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["X-Robots-Tag"] = "noindex, nofollow"
        resp.headers["Cache-Control"] = "no-store"

    faq_admin.create_faq_blueprint(templates, guarded, into=bp)  # the FAQ page (issue 15), same guard

    # ----------------------------------------------------------------- sign-in

    @bp.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        return await login_page(request)

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        if not _login_csrf_ok(request):
            log.warning("staff: refused a sign-in without the form's token or from another site")
            return refuse(False, 403, "forbidden", "Cross-site or stale sign-in refused.")
        form = request.form or {}
        username = (form.get("username") or staff_auth.DEFAULT_USERNAME).strip()[:64]
        password = form.get("password") or ""
        if not password or len(password) > staff_auth.MAX_LENGTH:
            return await login_page(request, status=401, error="invalid")
        try:
            outcome = await _db(
                request,
                accounts.attempt,
                username,
                client_address(request),
                lambda stored: staff_auth.verify(stored, password),
            )
            if outcome.result != "ok":
                log.warning("staff: a sign-in was refused (%s)", outcome.result)
                if outcome.retry_after:
                    return await login_page(request, 429, "throttled", outcome.retry_after)
                return await login_page(request, status=401, error="invalid")
            session = secrets.token_urlsafe(32)
            await _db(request, accounts.start_session, session, username)
        except (DatabaseUnavailable, SQLAlchemyError) as error:
            log.warning("staff: database unavailable (%s)", error.__class__.__name__)
            return page("message", status=503, reason="unavailable")
        log.info("staff: signed in")
        resp = response.redirect(PREFIX, status=303)
        set_cookie(request, resp, COOKIE, session, SESSION_SECONDS)
        set_cookie(request, resp, LOGIN_COOKIE, "", 0)
        return resp

    @bp.post("/logout")
    @guarded(api=False, write=True)
    async def logout(request: Request, credential: Credential) -> HTTPResponse:
        if credential.session:
            await _db(request, accounts.end_session, credential.session)
        resp = response.redirect(f"{PREFIX}/login", status=303)
        set_cookie(request, resp, COOKIE, "", 0)
        return resp

    # ----------------------------------------------------------------- HTML inbox

    @bp.get("", strict_slashes=False)
    @guarded(api=False)
    async def inbox(request: Request, credential: Credential) -> HTTPResponse:
        settings = request.app.ctx.settings
        key = _reference_key(request.app)
        open_only = request.args.get("show") == "open"
        sections = {}
        for kind in KINDS:
            counted = await _db(request, inbox_db.counts, kind)
            shown = counted.open if open_only else counted.total
            pages = max(1, -(-shown // PAGE_SIZE))
            number = _int_arg(request, f"page_{kind}", 1, 1, pages)
            offset = (number - 1) * PAGE_SIZE
            items = await _db(
                request, inbox_db.page, kind, offset=offset, limit=PAGE_SIZE, open_only=open_only
            )
            sections[kind] = {"counts": counted, "rows": items, "page": number, "pages": pages}
        undo = None
        undo_kind = request.args.get("undo")
        if undo_kind in KINDS:
            ids = _ids_from([request.args.get("ids", "")])[: inbox_db.MAX_BULK]
            try:
                at = datetime.fromisoformat(request.args.get("at", ""))
            except ValueError:
                at = None
            if ids and at is not None and at.tzinfo is not None:
                undo = {
                    "kind": undo_kind,
                    "ids": ",".join(map(str, ids)),
                    "count": len(ids),
                    "at": at.isoformat(),
                }

        def page_url(kind: str, number: int) -> str:
            args = {k: v for k, v in request.args.items() if k.startswith("page_") or k == "show"}
            args = {k: v[0] if isinstance(v, list) else v for k, v in args.items()}
            args[f"page_{kind}"] = str(number)
            return f"{PREFIX}?{urlencode(args)}#{kind}"

        zone = therapist_timezone(settings)
        return page(
            "inbox",
            sections=sections,
            open_only=open_only,
            undo=undo,
            page_url=page_url,
            csrf=csrf_token(credential.session) if credential.session else "",
            csrf_field=CSRF_FIELD,
            signed_in_with_cookie=credential.via == "cookie",
            zone=zone,
            when=lambda value: inbox_view.when(value, zone),
            age=inbox_view.age,
            local=display_local,
            describe=inbox_view.describe_event,
            booking_status=inbox_view.booking_status,
            conversation_ref=lambda cid: references.conversation_reference(cid, key),
            feed_url=f"{settings.site_url.rstrip('/')}{PREFIX}/calendar/feed/{references.feed_key(key)}.ics",
        )

    @bp.post("/<kind>/<item_id:int>/handled")
    @guarded(api=False, write=True)
    async def mark_handled_form(request: Request, _: Credential, kind: str, item_id: int) -> HTTPResponse:
        if kind not in KINDS or await _db(request, inbox_db.get, kind, item_id) is None:
            return page("message", status=404, reason="not_found")
        ids, stamp = await _db(request, inbox_db.mark_handled, kind, [item_id])
        return _handled_redirect(kind, ids, stamp)

    @bp.post("/<kind>/handled")
    @guarded(api=False, write=True)
    async def mark_many_handled(request: Request, _: Credential, kind: str) -> HTTPResponse:
        if kind not in KINDS:
            return page("message", status=404, reason="not_found")
        wanted = _ids_from(request.form.getlist("ids") if request.form else [])
        if len(wanted) > inbox_db.MAX_BULK:
            return page("message", status=400, reason="too_many")
        ids, stamp = await _db(request, inbox_db.mark_handled, kind, wanted)
        return _handled_redirect(kind, ids, stamp)

    @bp.post("/<kind>/undo")
    @guarded(api=False, write=True)
    async def undo_handled(request: Request, _: Credential, kind: str) -> HTTPResponse:
        if kind not in KINDS:
            return page("message", status=404, reason="not_found")
        form = request.form or {}
        ids = _ids_from(form.getlist("ids") if form else [])[: inbox_db.MAX_BULK]
        try:
            at = datetime.fromisoformat(form.get("at") or "")
        except ValueError:
            return page("message", status=400, reason="bad_request")
        if at.tzinfo is None:
            return page("message", status=400, reason="bad_request")
        await _db(request, inbox_db.undo_handled, kind, ids, at)
        return response.redirect(f"{PREFIX}#{kind}", status=303)

    @bp.get("/export/<filename>")
    @guarded(api=False)
    async def export_csv(request: Request, _: Credential, filename: str) -> HTTPResponse:
        kind = filename[: -len(".csv")] if filename.endswith(".csv") else None
        if kind not in KINDS:
            return page("message", status=404, reason="not_found")
        records = await _db(request, _lister(kind), limit=None)
        stamp = datetime.now(UTC).strftime("%Y-%m-%d")
        return response.raw(
            # The BOM lets Excel read accented names.
            render_csv(kind, records, _reference_key(request.app)).encode("utf-8-sig"),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="haven-{kind}-{stamp}.csv"'},
        )

    # ----------------------------------------------------------------- calendar

    def ics(body: bytes, filename: str | None = None) -> HTTPResponse:
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else None
        return response.raw(body, content_type="text/calendar; charset=utf-8", headers=headers)

    async def calendar_of_all(request: Request) -> HTTPResponse:
        bookings = await _db(request, repository.list_bookings, limit=None)
        return ics(calendar_feed.calendar(bookings, request.app.ctx.settings, datetime.now(UTC)))

    @bp.get("/calendar.ics")
    @guarded(api=True)
    async def calendar_ics(request: Request, _: Credential) -> HTTPResponse:
        return await calendar_of_all(request)

    @bp.get("/calendar/feed/<name>")
    async def calendar_feed_by_secret(request: Request, name: str) -> HTTPResponse:
        """The long secret URL a calendar app subscribes to (it cannot send a bearer token)."""
        if not request.app.ctx.settings.staff_token:
            return refuse(True, 503, "disabled", DISABLED_MESSAGE)
        given = name[: -len(".ics")] if name.endswith(".ics") else name
        try:
            expected = references.feed_key(_reference_key(request.app))
            matches = hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())
            if len(given) > 128 or not matches:
                return response.json({"error": NOT_FOUND_MESSAGE}, status=404)
            return await calendar_of_all(request)
        except (DatabaseUnavailable, SQLAlchemyError, SecretUnavailable) as error:
            log.warning("staff: database unavailable (%s)", error.__class__.__name__)
            return response.json({"error": UNAVAILABLE_MESSAGE}, status=503)

    @bp.get("/calendar/booking/<item_id:int>")
    @guarded(api=False)
    async def booking_ics(request: Request, _: Credential, item_id: int) -> HTTPResponse:
        booking = await _db(request, inbox_db.get, "bookings", item_id)
        if booking is None:
            return page("message", status=404, reason="not_found")
        body = calendar_feed.calendar([booking], request.app.ctx.settings, datetime.now(UTC))
        return ics(body, f"{booking.reference}.ics")

    # ----------------------------------------------------------------- insights

    async def insight_weeks(request: Request, last, n: int):
        """(topic id -> title, the weeks newest first); every topic id is present, counted or not."""
        kb = content.load(request.app.ctx.settings.content_dir)
        names = {topic_id: topic.title for topic_id, topic in kb.topics.items()}
        zone = therapist_timezone(request.app.ctx.settings)
        selected = await _db(request, insights.weeks, last, n, zone, list(names))
        return names, selected

    @bp.get("/insights")
    @guarded(api=False)
    async def insights_page(request: Request, credential: Credential) -> HTTPResponse:
        settings = request.app.ctx.settings
        zone = therapist_timezone(settings)
        week = insights.parse_week(request.args.get("week"), zone)
        current = insights.this_week(zone)
        week = min(week, current)
        names, history = await insight_weeks(request, week, DEFAULT_INSIGHT_WEEKS)
        shown = history[0]
        words = inbox_view.safety_words()["categories"]
        topics = sorted(((names.get(k, k), v) for k, v in shown.topics.items()), key=lambda p: (-p[1], p[0]))
        overview = [
            ("Conversations", shown.conversations),
            ("Topics answered", sum(shown.topics.values())),
            ('"Did you mean" offered', shown.did_you_mean),
            ("Could not answer", shown.could_not_answer),
            ("Bookings", shown.bookings),
            ("Hand-off requests", shown.handoffs),
        ]
        crises = [(words.get(c, c), shown.crises[c], shown.check_ins[c]) for c in insights.CATEGORIES]
        return page(
            "insights",
            week=shown,
            history=history,
            previous=(week - timedelta(weeks=1)).isoformat(),
            following=(week + timedelta(weeks=1)).isoformat() if week < current else None,
            overview=overview,
            overview_chart=insights.bar_chart(overview),
            topics=topics,
            topics_chart=insights.bar_chart(topics),
            crises=crises,
            crises_chart=insights.bar_chart([(label, n + m) for label, n, m in crises]),
            weekly_chart=insights.bar_chart(
                [(f"Week of {w.start.day} {w.start:%b}", w.conversations) for w in history]
            ),
            zone=zone,
            csrf=csrf_token(credential.session) if credential.session else "",
            csrf_field=CSRF_FIELD,
            signed_in_with_cookie=credential.via == "cookie",
        )

    # ----------------------------------------------------------------- JSON API

    @bp.get("/api/insights")
    @guarded(api=True)
    async def api_insights(request: Request, _: Credential) -> HTTPResponse:
        """Counts only, keyed by topic id; `?weeks=N` (1-52, default 8) ending with `?week=` (default now)."""
        zone = therapist_timezone(request.app.ctx.settings)
        last = min(insights.parse_week(request.args.get("week"), zone), insights.this_week(zone))
        n = _int_arg(request, "weeks", DEFAULT_INSIGHT_WEEKS, 1, insights.MAX_WEEKS)
        _, selected = await insight_weeks(request, last, n)
        return response.json(
            {
                "timezone": zone,
                "week_starts_on": "monday",
                "weeks": [week.to_dict() for week in selected],
                "totals": insights.totals(selected),
            }
        )

    @bp.get("/api/<kind>")
    @guarded(api=True)
    async def api_list(request: Request, _: Credential, kind: str) -> HTTPResponse:
        """Newest first (`?show=open` for open items only, `offset`, `limit` up to 500) with true counts."""
        if kind not in KINDS:
            return response.json({"error": f"unknown kind; use one of {', '.join(KINDS)}"}, status=404)
        open_only = request.args.get("show") == "open"
        limit = _int_arg(request, "limit", API_MAX_LIMIT, 1, API_MAX_LIMIT)
        offset = _int_arg(request, "offset", 0, 0, API_MAX_OFFSET)
        records = await _db(request, _lister(kind), limit=limit + offset, unhandled_only=open_only)
        counted = await _db(request, inbox_db.counts, kind)
        key = _reference_key(request.app)
        return response.json(
            {
                "items": [public_dict(record, key) for record in records[offset:]],
                "open": counted.open,
                "total": counted.total,
            }
        )

    @bp.post("/api/<kind>/<item_id:int>/handled")
    @guarded(api=True, write=True)
    async def api_mark_handled(request: Request, _: Credential, kind: str, item_id: int) -> HTTPResponse:
        if kind not in KINDS:
            return response.json({"error": f"unknown kind; use one of {', '.join(KINDS)}"}, status=404)
        if not await _db(request, repository.mark_handled, kind, item_id):
            return response.json({"error": NOT_FOUND_MESSAGE}, status=404)
        return response.json({"kind": kind, "id": item_id, "handled": True})

    return bp
