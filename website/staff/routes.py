"""The staff blueprint: one small named handler per URL, registered by create_blueprint.

Why it is built this way:
- Every URL lives under /staff and every handler but the sign-in form and the calendar feed is
  behind the one guard (views.guarded); the handlers only read the request and answer.
- Staff pages send `Referrer-Policy: same-origin` because under the site-wide `no-referrer`
  browsers send `Origin: null` on form posts, which would hide a same-site post from the CSRF
  check (session.py); they are also never indexed nor cached.
- Counts are the database's (never the length of a listed page), lists are paged with open items
  first, and "mark handled" works on many items at once with an undo (the undo reopens only what
  that one action closed: the items carry its exact time stamp).
- A conversation id is the visitor's capability (issue 12): pages, CSV, JSON and the calendar show
  a short keyed hash of it instead (haven/services/references.py), never the id.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from jinja2 import Environment
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from haven.db import inbox as inbox_db
from haven.db import repository
from haven.db import staff_accounts as accounts
from haven.services import content, references
from haven.services.availability import therapist_timezone
from website import ERROR_FORMAT, calendar_feed, faq_admin, inbox_view, insights, staff_auth
from website.staff.data import KINDS, db, lister, reference_key
from website.staff.export import public_dict, render_csv
from website.staff.session import (
    COOKIE,
    CSRF_FIELD,
    LOGIN_COOKIE,
    PREFIX,
    SESSION_SECONDS,
    Credential,
    client_address,
    csrf_token,
    login_csrf_ok,
    set_cookie,
)
from website.staff.views import (
    DATABASE_ERRORS,
    DISABLED_MESSAGE,
    NOT_FOUND_MESSAGE,
    UNAVAILABLE_ERRORS,
    UNAVAILABLE_MESSAGE,
    display_local,
    guarded,
    login_page,
    page,
    refuse,
)

log = logging.getLogger(__package__)  # "website.staff" in every module of the package, as before the split

PAGE_SIZE = 20
API_MAX_LIMIT = 500
API_MAX_OFFSET = 100_000
DEFAULT_INSIGHT_WEEKS = 8


# --------------------------------------------------------------------------- request helpers


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


def _signed_in(credential: Credential) -> dict:
    """What every page with a sign-out button needs: the form's CSRF token, and whether to show it."""
    return {
        "csrf": csrf_token(credential.session) if credential.session else "",
        "csrf_field": CSRF_FIELD,
        "signed_in_with_cookie": credential.via == "cookie",
    }


def _unknown_kind() -> HTTPResponse:
    return response.json({"error": f"unknown kind; use one of {', '.join(KINDS)}"}, status=404)


# --------------------------------------------------------------------------- sign-in


async def login_form(request: Request) -> HTTPResponse:
    return await login_page(request)


async def login(request: Request) -> HTTPResponse:
    if not login_csrf_ok(request):
        log.warning("staff: refused a sign-in without the form's token or from another site")
        return refuse(request, False, 403, "forbidden", "Cross-site or stale sign-in refused.")
    form = request.form or {}
    username = (form.get("username") or staff_auth.DEFAULT_USERNAME).strip()[:64]
    password = form.get("password") or ""
    if not password or len(password) > staff_auth.MAX_LENGTH:
        return await login_page(request, status=401, error="invalid")
    try:
        outcome = await db(
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
        await db(request, accounts.start_session, session, username)
    except DATABASE_ERRORS as error:
        log.warning("staff: database unavailable (%s)", error.__class__.__name__)
        return page(request, "message", status=503, reason="unavailable")
    log.info("staff: signed in")
    resp = response.redirect(PREFIX, status=303)
    set_cookie(request, resp, COOKIE, session, SESSION_SECONDS)
    set_cookie(request, resp, LOGIN_COOKIE, "", 0)
    return resp


@guarded(api=False, write=True)
async def logout(request: Request, credential: Credential) -> HTTPResponse:
    if credential.session:
        await db(request, accounts.end_session, credential.session)
    resp = response.redirect(f"{PREFIX}/login", status=303)
    set_cookie(request, resp, COOKIE, "", 0)
    return resp


# --------------------------------------------------------------------------- HTML inbox


async def _sections(request: Request, open_only: bool) -> dict:
    """Each kind's counts and the page of it asked for (`?page_<kind>=`)."""
    sections = {}
    for kind in KINDS:
        counted = await db(request, inbox_db.counts, kind)
        shown = counted.open if open_only else counted.total
        pages = max(1, -(-shown // PAGE_SIZE))
        number = _int_arg(request, f"page_{kind}", 1, 1, pages)
        offset = (number - 1) * PAGE_SIZE
        items = await db(request, inbox_db.page, kind, offset=offset, limit=PAGE_SIZE, open_only=open_only)
        sections[kind] = {"counts": counted, "rows": items, "page": number, "pages": pages}
    return sections


def _undo_offer(request: Request) -> dict | None:
    """The undo the last "mark handled" redirect asked the inbox to offer, if it is well formed."""
    undo_kind = request.args.get("undo")
    if undo_kind not in KINDS:
        return None
    ids = _ids_from([request.args.get("ids", "")])[: inbox_db.MAX_BULK]
    try:
        at = datetime.fromisoformat(request.args.get("at", ""))
    except ValueError:
        return None
    if not ids or at.tzinfo is None:
        return None
    return {"kind": undo_kind, "ids": ",".join(map(str, ids)), "count": len(ids), "at": at.isoformat()}


def _page_url(request: Request, kind: str, number: int) -> str:
    """This inbox view with one section turned to another page (the other sections stay put)."""
    args = {k: v for k, v in request.args.items() if k.startswith("page_") or k == "show"}
    args = {k: v[0] if isinstance(v, list) else v for k, v in args.items()}
    args[f"page_{kind}"] = str(number)
    return f"{PREFIX}?{urlencode(args)}#{kind}"


@guarded(api=False)
async def inbox(request: Request, credential: Credential) -> HTTPResponse:
    settings = request.app.ctx.settings
    key = reference_key(request.app)
    open_only = request.args.get("show") == "open"
    sections = await _sections(request, open_only)
    talked = [r.conversation_id for kind in ("bookings", "handoffs") for r in sections[kind]["rows"]]
    after_crisis = await db(request, inbox_db.with_safety_events, talked)
    zone = therapist_timezone(settings)
    return page(
        request,
        "inbox",
        sections=sections,
        after_crisis=after_crisis,
        open_only=open_only,
        undo=_undo_offer(request),
        page_url=lambda kind, number: _page_url(request, kind, number),
        **_signed_in(credential),
        zone=zone,
        when=lambda value: inbox_view.when(value, zone),
        age=inbox_view.age,
        local=display_local,
        describe=inbox_view.describe_event,
        booking_status=inbox_view.booking_status,
        conversation_ref=lambda cid: references.conversation_reference(cid, key),
        feed_url=f"{settings.site_url.rstrip('/')}{PREFIX}/calendar/feed/{references.feed_key(key)}.ics",
    )


@guarded(api=False, write=True)
async def mark_handled_form(request: Request, _: Credential, kind: str, item_id: int) -> HTTPResponse:
    if kind not in KINDS or await db(request, inbox_db.get, kind, item_id) is None:
        return page(request, "message", status=404, reason="not_found")
    ids, stamp = await db(request, inbox_db.mark_handled, kind, [item_id])
    return _handled_redirect(kind, ids, stamp)


@guarded(api=False, write=True)
async def mark_many_handled(request: Request, _: Credential, kind: str) -> HTTPResponse:
    if kind not in KINDS:
        return page(request, "message", status=404, reason="not_found")
    wanted = _ids_from(request.form.getlist("ids") if request.form else [])
    if len(wanted) > inbox_db.MAX_BULK:
        return page(request, "message", status=400, reason="too_many")
    ids, stamp = await db(request, inbox_db.mark_handled, kind, wanted)
    return _handled_redirect(kind, ids, stamp)


@guarded(api=False, write=True)
async def undo_handled(request: Request, _: Credential, kind: str) -> HTTPResponse:
    if kind not in KINDS:
        return page(request, "message", status=404, reason="not_found")
    form = request.form or {}
    ids = _ids_from(form.getlist("ids") if form else [])[: inbox_db.MAX_BULK]
    try:
        at = datetime.fromisoformat(form.get("at") or "")
    except ValueError:
        return page(request, "message", status=400, reason="bad_request")
    if at.tzinfo is None:
        return page(request, "message", status=400, reason="bad_request")
    await db(request, inbox_db.undo_handled, kind, ids, at)
    return response.redirect(f"{PREFIX}#{kind}", status=303)


@guarded(api=False)
async def export_csv(request: Request, _: Credential, filename: str) -> HTTPResponse:
    kind = filename[: -len(".csv")] if filename.endswith(".csv") else None
    if kind not in KINDS:
        return page(request, "message", status=404, reason="not_found")
    records = await db(request, lister(kind), limit=None)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    return response.raw(
        # The BOM lets Excel read accented names.
        render_csv(kind, records, reference_key(request.app)).encode("utf-8-sig"),
        content_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="haven-{kind}-{stamp}.csv"'},
    )


# --------------------------------------------------------------------------- calendar


def _ics(body: bytes, filename: str | None = None) -> HTTPResponse:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'} if filename else None
    return response.raw(body, content_type="text/calendar; charset=utf-8", headers=headers)


async def _calendar_of_all(request: Request) -> HTTPResponse:
    bookings = await db(request, repository.list_bookings, limit=None)
    return _ics(calendar_feed.calendar(bookings, request.app.ctx.settings, datetime.now(UTC)))


@guarded(api=True)
async def calendar_ics(request: Request, _: Credential) -> HTTPResponse:
    return await _calendar_of_all(request)


async def calendar_feed_by_secret(request: Request, name: str) -> HTTPResponse:
    """The long secret URL a calendar app subscribes to (it cannot send a bearer token)."""
    if not request.app.ctx.settings.staff_token:
        return refuse(request, True, 503, "disabled", DISABLED_MESSAGE)
    given = name[: -len(".ics")] if name.endswith(".ics") else name
    try:
        expected = references.feed_key(reference_key(request.app))
        matches = hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode())
        if len(given) > 128 or not matches:
            return response.json({"error": NOT_FOUND_MESSAGE}, status=404)
        return await _calendar_of_all(request)
    except UNAVAILABLE_ERRORS as error:
        log.warning("staff: database unavailable (%s)", error.__class__.__name__)
        return response.json({"error": UNAVAILABLE_MESSAGE}, status=503)


@guarded(api=False)
async def booking_ics(request: Request, _: Credential, item_id: int) -> HTTPResponse:
    booking = await db(request, inbox_db.get, "bookings", item_id)
    if booking is None:
        return page(request, "message", status=404, reason="not_found")
    body = calendar_feed.calendar([booking], request.app.ctx.settings, datetime.now(UTC))
    return _ics(body, f"{booking.reference}.ics")


# --------------------------------------------------------------------------- insights


async def _insight_weeks(request: Request, last, n: int):
    """(topic id -> title, the weeks newest first); every topic id is present, counted or not."""
    kb = content.load(request.app.ctx.settings.content_dir)
    names = {topic_id: topic.title for topic_id, topic in kb.topics.items()}
    zone = therapist_timezone(request.app.ctx.settings)
    selected = await db(request, insights.weeks, last, n, zone, list(names))
    return names, selected


@guarded(api=False)
async def insights_page(request: Request, credential: Credential) -> HTTPResponse:
    settings = request.app.ctx.settings
    zone = therapist_timezone(settings)
    week = insights.parse_week(request.args.get("week"), zone)
    current = insights.this_week(zone)
    week = min(week, current)
    names, history = await _insight_weeks(request, week, DEFAULT_INSIGHT_WEEKS)
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
        request,
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
        **_signed_in(credential),
    )


# --------------------------------------------------------------------------- JSON API


@guarded(api=True)
async def api_insights(request: Request, _: Credential) -> HTTPResponse:
    """Counts only, keyed by topic id; `?weeks=N` (1-52, default 8) ending with `?week=` (default now)."""
    zone = therapist_timezone(request.app.ctx.settings)
    last = min(insights.parse_week(request.args.get("week"), zone), insights.this_week(zone))
    n = _int_arg(request, "weeks", DEFAULT_INSIGHT_WEEKS, 1, insights.MAX_WEEKS)
    _, selected = await _insight_weeks(request, last, n)
    return response.json(
        {
            "timezone": zone,
            "week_starts_on": "monday",
            "weeks": [week.to_dict() for week in selected],
            "totals": insights.totals(selected),
        }
    )


@guarded(api=True)
async def api_list(request: Request, _: Credential, kind: str) -> HTTPResponse:
    """Newest first (`?show=open` for open items only, `offset`, `limit` up to 500) with true counts."""
    if kind not in KINDS:
        return _unknown_kind()
    open_only = request.args.get("show") == "open"
    limit = _int_arg(request, "limit", API_MAX_LIMIT, 1, API_MAX_LIMIT)
    offset = _int_arg(request, "offset", 0, 0, API_MAX_OFFSET)
    records = await db(request, lister(kind), limit=limit + offset, unhandled_only=open_only)
    counted = await db(request, inbox_db.counts, kind)
    key = reference_key(request.app)
    return response.json(
        {
            "items": [public_dict(record, key) for record in records[offset:]],
            "open": counted.open,
            "total": counted.total,
        }
    )


@guarded(api=True, write=True)
async def api_mark_handled(request: Request, _: Credential, kind: str, item_id: int) -> HTTPResponse:
    if kind not in KINDS:
        return _unknown_kind()
    if not await db(request, repository.mark_handled, kind, item_id):
        return response.json({"error": NOT_FOUND_MESSAGE}, status=404)
    return response.json({"kind": kind, "id": item_id, "handled": True})


# --------------------------------------------------------------------------- the blueprint

#: (method, path under /staff, handler), in the order they were always registered.
ROUTES = (
    ("GET", "/login", login_form),
    ("POST", "/login", login),
    ("POST", "/logout", logout),
    ("GET", "", inbox),
    ("POST", "/<kind>/<item_id:int>/handled", mark_handled_form),
    ("POST", "/<kind>/handled", mark_many_handled),
    ("POST", "/<kind>/undo", undo_handled),
    ("GET", "/export/<filename>", export_csv),
    ("GET", "/calendar.ics", calendar_ics),
    ("GET", "/calendar/feed/<name>", calendar_feed_by_secret),
    ("GET", "/calendar/booking/<item_id:int>", booking_ics),
    ("GET", "/insights", insights_page),
    ("GET", "/api/insights", api_insights),
    ("GET", "/api/<kind>", api_list),
    ("POST", "/api/<kind>/<item_id:int>/handled", api_mark_handled),
)


async def _staff_headers(_: Request, resp: HTTPResponse) -> None:
    # Same-origin referrers let the browser send a real Origin on our own form posts (see the top).
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["X-Robots-Tag"] = "noindex, nofollow"
    resp.headers["Cache-Control"] = "no-store"


def create_blueprint(templates: Environment) -> Blueprint:
    """A fresh blueprint per app (sanic ties blueprints to the apps they are registered on)."""
    bp = Blueprint(f"staff_{secrets.token_hex(4)}", url_prefix=PREFIX)

    @bp.middleware("request")
    async def attach_templates(request: Request) -> None:
        request.ctx.staff_templates = templates  # what views.page renders with

    bp.middleware(_staff_headers, "response")
    faq_admin.create_faq_blueprint(templates, guarded, into=bp)  # the FAQ page (issue 15), same guard
    for method, uri, handler in ROUTES:
        strict_slashes = False if uri == "" else None
        bp.add_route(handler, uri, methods=[method], strict_slashes=strict_slashes, error_format=ERROR_FORMAT)
    return bp
