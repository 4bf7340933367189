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
import threading
import time
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
from haven.db.repository import DatabaseUnavailable
from website import calendar_feed, faq_admin, inbox_view, insights

log = logging.getLogger(__name__)

PREFIX = "/staff"
COOKIE = "haven_staff"
SESSION_SECONDS = 12 * 3600
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
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

DISABLED_MESSAGE = "The staff inbox is disabled until HAVEN_STAFF_TOKEN is set on the server."
UNAUTHORISED_MESSAGE = "Staff credentials required: send Authorization: Bearer <HAVEN_STAFF_TOKEN>."
UNAVAILABLE_MESSAGE = "The database is not available right now; please try again in a moment."
NOT_FOUND_MESSAGE = "No such item."

_schema_lock = threading.Lock()


# --------------------------------------------------------------------------- credentials


def _mac(token: str, purpose: str, value: str) -> str:
    return hmac.new(
        token.encode("utf-8"), f"haven-staff|{purpose}|{value}".encode(), hashlib.sha256
    ).hexdigest()


def new_session(token: str, now: float | None = None) -> str:
    """A cookie value `v1.<expires>.<nonce>.<hmac>`: proves a sign-in without containing the token."""
    expires = int(now if now is not None else time.time()) + SESSION_SECONDS
    payload = f"v1.{expires}.{secrets.token_hex(8)}"
    return f"{payload}.{_mac(token, 'session', payload)}"


def session_is_valid(value: str | None, token: str, now: float | None = None) -> bool:
    if not value or len(value) > _MAX_COOKIE:
        return False
    payload, _, mac = value.rpartition(".")
    parts = payload.split(".")
    if len(parts) != 3 or parts[0] != "v1" or not parts[1].isdigit():
        return False
    if int(parts[1]) < (now if now is not None else time.time()):
        return False
    return hmac.compare_digest(mac.encode("ascii", "replace"), _mac(token, "session", payload).encode())


def csrf_token(token: str, session: str) -> str:
    """Bound to the session cookie, so a token from one sign-in is useless with another."""
    return _mac(token, "csrf", session)


def _token_matches(given: str, token: str) -> bool:
    # Sanic decodes header bytes that are not UTF-8 as lone surrogates ("\udce9"): compare them as
    # they came rather than fail with UnicodeEncodeError (a 500 for a wrong token).
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), token.encode("utf-8", "surrogatepass"))


@dataclasses.dataclass(frozen=True)
class Credential:
    via: str  # "bearer" or "cookie"
    session: str | None = None


def _authenticate(request: Request, token: str) -> Credential | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return Credential("bearer") if _token_matches(value.strip(), token) else None
    session = request.cookies.get(COOKIE)
    if session_is_valid(session, token):
        return Credential("cookie", session)
    return None


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
    """'same', 'foreign' or 'absent' (no Origin, `Origin: null`, no Referer)."""
    origin = request.headers.get("origin", "").strip()
    if origin and origin != "null":
        return "same" if _same_site(request, origin) else "foreign"
    referer = request.headers.get("referer", "").strip()
    if referer:
        return "same" if _same_site(request, referer) else "foreign"
    return "absent"


def _csrf_ok(request: Request, token: str, session: str) -> bool:
    if _origin_state(request) == "foreign":
        return False
    supplied = request.headers.get(CSRF_HEADER) or ""
    if not supplied and request.form:
        supplied = request.form.get(CSRF_FIELD) or ""
    if not supplied or len(supplied) > _MAX_COOKIE:
        return False
    return hmac.compare_digest(supplied.encode("ascii", "replace"), csrf_token(token, session).encode())


# --------------------------------------------------------------------------- database


def _ensure_schema_sync(app: Sanic) -> bool:
    with _schema_lock:
        if getattr(app.ctx, "schema_ready", False):
            return True
        try:
            migrate.upgrade(app.ctx.settings.database_url)
        except Exception as error:  # noqa: BLE001 - a server must start even when the database is down
            log.error(
                "could not bring the database schema up to date (%s); staff pages answer 503 until it works",
                error.__class__.__name__,
            )
            return False
        app.ctx.schema_ready = True
        return True


async def ensure_schema(app: Sanic) -> bool:
    """Run the migrations once per app; retried on the next staff request if the database was down."""
    if getattr(app.ctx, "schema_ready", False):
        return True
    return await asyncio.get_running_loop().run_in_executor(None, _ensure_schema_sync, app)


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
    if text.startswith(_FORMULA_STARTS) or text.lstrip(" \n").startswith(_FORMULA_STARTS[:4]):
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
        if status == 401:
            return page("login", status=401, error=None)
        return page("message", status=status, reason=reason)

    def guarded(*, api: bool, write: bool = False):
        """Disabled -> 503, no credential -> 401 (login page), bad CSRF -> 403, database down -> 503."""

        def decorate(handler):
            @wraps(handler)
            async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
                token = request.app.ctx.settings.staff_token
                if not token:
                    return refuse(api, 503, "disabled", DISABLED_MESSAGE)
                credential = _authenticate(request, token)
                if credential is None:
                    return refuse(api, 401, "unauthorised", UNAUTHORISED_MESSAGE)
                if write and credential.via == "cookie" and not _csrf_ok(request, token, credential.session):
                    log.warning(
                        "staff: refused a browser POST without a valid CSRF token or from another site"
                    )
                    return refuse(api, 403, "forbidden", "Cross-site or stale form refused; reload the page.")
                try:
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

    def secure_cookie(request: Request) -> bool:
        origin = request.app.ctx.settings.site_origin or ""
        return request.scheme == "https" or origin.startswith("https://")

    @bp.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        if not request.app.ctx.settings.staff_token:
            return refuse(False, 503, "disabled", DISABLED_MESSAGE)
        return page("login", error=None)

    @bp.post("/login")
    async def login(request: Request) -> HTTPResponse:
        token = request.app.ctx.settings.staff_token
        if not token:
            return refuse(False, 503, "disabled", DISABLED_MESSAGE)
        if _origin_state(request) == "foreign":
            return refuse(False, 403, "forbidden", "Cross-site sign-in refused.")
        given = (request.form.get("token") or "") if request.form else ""
        if not given or len(given) > _MAX_TOKEN or not _token_matches(given.strip(), token):
            log.warning("staff: a sign-in with a wrong token was refused")
            return page("login", status=401, error="invalid")
        resp = response.redirect(PREFIX, status=303)
        resp.cookies[COOKIE] = new_session(token)
        cookie = resp.cookies[COOKIE]
        cookie["path"] = PREFIX
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["max-age"] = SESSION_SECONDS
        if secure_cookie(request):
            cookie["secure"] = True
        return resp

    @bp.post("/logout")
    async def logout(request: Request) -> HTTPResponse:
        if not request.app.ctx.settings.staff_token:
            return refuse(False, 503, "disabled", DISABLED_MESSAGE)
        if _origin_state(request) == "foreign":
            return refuse(False, 403, "forbidden", "Cross-site sign-out refused.")
        resp = response.redirect(f"{PREFIX}/login", status=303)
        resp.cookies[COOKIE] = ""
        cookie = resp.cookies[COOKIE]
        cookie["path"] = PREFIX
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["max-age"] = 0
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

        token = settings.staff_token
        zone = therapist_timezone(settings)
        return page(
            "inbox",
            sections=sections,
            open_only=open_only,
            undo=undo,
            page_url=page_url,
            csrf=csrf_token(token, credential.session) if credential.session else "",
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
        token = settings.staff_token
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
            csrf=csrf_token(token, credential.session) if credential.session else "",
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
