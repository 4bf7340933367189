"""The staff inbox through sanic's test client, on a migrated SQLite database in tmp_path."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import OperationalError

from haven import settings as settings_module
from haven.db import inbox as inbox_db
from haven.db import repository, session
from haven.ops.processes import free_port
from haven.services import references
from tests import staff_signin
from tests.sanic_server import served
from website import staff
from website.app import create_app

TOKEN = "s3cret-staff-token-for-tests-0123456789"
HOST = "inbox.test"  # sent as the Host header so a same-site Origin is predictable
SAME_ORIGIN = f"http://{HOST}"
VISITOR = "Zelda Quux"
VISITOR_EMAIL = "zelda.quux@example.org"


def make_app(db_url: str, **env: str):
    # The reference secret file beside the test database (never the project's var/).
    secret_file = str(db_url.replace("sqlite:///", "", 1).rsplit("/", 1)[0] + "/reference-secret")
    sqlite = db_url.startswith("sqlite:///")
    values = {
        "DATABASE_URL": db_url,
        "HAVEN_STAFF_TOKEN": TOKEN,
        "SITE_PORT": "8123",
        "HAVEN_REFERENCE_SECRET_FILE": secret_file if sqlite else "",
        "HAVEN_REFERENCE_SECRET": "" if sqlite else "made-up-reference-key-" + "0" * 16,
        **env,
    }
    return create_app(settings_module.load({k: v for k, v in values.items() if v}))


@pytest.fixture
def app(db_url, staff_password):
    with served(make_app(db_url)) as app:
        yield app


@pytest.fixture
def rows(db_url):
    """Three bookings, two hand-offs, two safety events, created oldest first."""
    bookings = [
        repository.create_booking(
            name=name,
            contact_method="email",
            contact=VISITOR_EMAIL,
            timezone="America/New_York",
            consent=True,
            time_preference="weekday evenings",
            url=db_url,
        )
        for name in (VISITOR, "Second Person", "Third Person")
    ]
    handoffs = [
        repository.create_handoff(
            name=name, contact_method="phone", contact="+1 555 010 0199", message="please call me", url=db_url
        )
        for name in (VISITOR, "Another Visitor")
    ]
    events = [
        repository.record_safety_event(
            category="suicide", subject="self", rule=f"rule_{n}", message_text="private words", url=db_url
        )
        for n in (1, 2)
    ]
    return {"bookings": bookings, "handoffs": handoffs, "safety-events": events}


BEARER = {"Authorization": f"Bearer {TOKEN}"}

STAFF_ROUTES = [
    ("get", "/staff", False),
    ("get", "/staff/", False),
    ("get", "/staff/api/bookings", True),
    ("get", "/staff/api/handoffs", True),
    ("get", "/staff/api/safety-events", True),
    ("get", "/staff/export/bookings.csv", False),
    ("get", "/staff/export/handoffs.csv", False),
    ("post", "/staff/api/bookings/1/handled", True),
    ("post", "/staff/bookings/1/handled", False),
    ("post", "/staff/bookings/handled", False),
    ("post", "/staff/bookings/undo", False),
    ("get", "/staff/insights", False),
    ("get", "/staff/api/insights", True),
    ("get", "/staff/calendar.ics", True),
    ("get", "/staff/calendar/booking/1", False),
]


def call(app, method: str, path: str, **kwargs):
    kwargs.setdefault("allow_redirects", False)
    headers = {"Host": HOST, **kwargs.pop("headers", {})}
    _, response = getattr(app.test_client, method)(path, headers=headers, **kwargs)
    return response


def sign_in(app) -> str:
    """The session cookie value a browser gets from the login form (tests/staff_signin.py)."""
    return staff_signin.sign_in_test_client(app, staff_signin.PASSWORD, HOST, SAME_ORIGIN)


def cookie_header(value: str) -> dict:
    return {"Cookie": f"{staff.COOKIE}={value}"}


def csrf_from(page: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)


def assert_no_data(response, rows) -> None:
    body = response.text
    assert VISITOR not in body and VISITOR_EMAIL not in body and "private words" not in body
    for items in rows.values():
        for item in items:
            assert getattr(item, "reference", "never-in-a-page") not in body


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("method,path,api", STAFF_ROUTES)
@pytest.mark.parametrize(
    "credential",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Cookie": f"{staff.COOKIE}=v1.9999999999.00.deadbeef"},
        {"Cookie": f"{staff.COOKIE}={TOKEN}"},
    ],
    ids=["none", "wrong", "not-bearer", "longer", "forged-cookie", "token-as-cookie"],
)
def test_no_valid_credential_gets_401_and_no_data(app, rows, db_url, method, path, api, credential) -> None:
    response = call(app, method, path, headers={**credential, "Origin": SAME_ORIGIN})
    assert response.status == 401
    assert_no_data(response, rows)
    if api:
        assert "error" in response.json
        assert response.headers["www-authenticate"].startswith("Bearer")
    else:
        assert 'name="password"' in response.text  # the sign-in page
    assert all(b.handled_at is None for b in repository.list_bookings(url=db_url))


@pytest.mark.parametrize("method,path,api", [route for route in STAFF_ROUTES if route[2]])
def test_the_json_api_refuses_everyone_while_the_token_is_unset(db_url, rows, method, path, api) -> None:
    with served(make_app(db_url, HAVEN_STAFF_TOKEN="")) as app:
        assert app.ctx.settings.staff_token is None
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer None"}):
            response = call(app, method, path, headers={**headers, "Origin": SAME_ORIGIN})
            assert response.status == 503
            assert "HAVEN_STAFF_TOKEN" in response.text and "disabled" in response.text
            assert "set-cookie" not in response.headers
            assert_no_data(response, rows)


@pytest.mark.parametrize("method,path,api", [route for route in STAFF_ROUTES if not route[2]])
def test_pages_ask_for_the_password_to_be_set_when_there_is_none(db_url, rows, method, path, api) -> None:
    """The embedded default has no password yet: the page says what to run, and names no settings."""
    app = make_app(db_url, HAVEN_STAFF_TOKEN="")
    response = call(app, method, path, headers={"Origin": SAME_ORIGIN})
    assert response.status == 401
    assert "No staff password is set yet: run <code>make staff-password</code> on the server" in response.text
    assert "HAVEN_" not in response.text and "TOKEN" not in response.text
    assert_no_data(response, rows)


def test_json_lists_are_newest_first(app, rows) -> None:
    for kind, created in rows.items():
        response = call(app, "get", f"/staff/api/{kind}", headers=BEARER)
        assert response.status == 200
        assert response.headers["content-type"].startswith("application/json")
        items = response.json["items"]
        assert [item["id"] for item in items] == [record.id for record in reversed(created)]
        assert items[0] == staff.public_dict(created[-1], references.secret(app.ctx.settings))
        assert response.json["total"] == len(created) and response.json["open"] == len(created)
    bookings = call(app, "get", "/staff/api/bookings", headers=BEARER).json["items"]
    assert bookings[-1]["name"] == VISITOR and bookings[-1]["handled_at"] is None


def test_unknown_kind_is_a_json_404(app, rows) -> None:
    response = call(app, "get", "/staff/api/visitors", headers=BEARER)
    assert response.status == 404 and "error" in response.json


def test_mark_handled_through_the_api(app, rows, db_url) -> None:
    target = rows["handoffs"][0]
    response = call(app, "post", f"/staff/api/handoffs/{target.id}/handled", headers=BEARER)
    assert response.status == 200
    assert response.json == {"kind": "handoffs", "id": target.id, "handled": True}
    items = call(app, "get", "/staff/api/handoffs", headers=BEARER).json["items"]
    handled = {item["id"]: item["handled_at"] for item in items}
    assert handled[target.id] is not None and handled[rows["handoffs"][1].id] is None
    # Idempotent, and the first time is kept.
    assert call(app, "post", f"/staff/api/handoffs/{target.id}/handled", headers=BEARER).status == 200
    assert repository.get_handoff(target.reference, url=db_url).handled_at.isoformat() == handled[target.id]

    for kind in ("bookings", "safety-events"):
        record = rows[kind][1]
        assert call(app, "post", f"/staff/api/{kind}/{record.id}/handled", headers=BEARER).status == 200
    assert repository.list_safety_events(url=db_url)[0].handled_at is not None

    missing = call(app, "post", "/staff/api/bookings/99999/handled", headers=BEARER)
    assert missing.status == 404 and "error" in missing.json
    assert call(app, "post", "/staff/api/visitors/1/handled", headers=BEARER).status == 404


# --------------------------------------------------------------------------- HTML inbox


def test_html_inbox_shows_three_sections_newest_first(app, rows) -> None:
    response = call(app, "get", "/staff", headers=BEARER)
    assert response.status == 200
    page = response.text
    for anchor in ('id="bookings"', 'id="handoffs"', 'id="safety-events"'):
        assert anchor in page
    for kind in ("bookings", "handoffs", "safety-events"):
        assert f'href="/staff/export/{kind}.csv"' in page
    positions = [page.index(b.reference) for b in reversed(rows["bookings"])]
    assert positions == sorted(positions)
    assert page.count('action="/staff/bookings/') == 3 + 1  # one per open booking, and the bulk form
    assert page.count("Mark handled") == 7
    assert page.count('<li class="card is-open">') == 7 and "<table" not in page  # cards, not wide tables
    assert 'href="/static/staff.css"' in page
    # The CSP forbids inline script and style; the page must not need either.
    assert "<script" not in page and "style=" not in page and "<style" not in page
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"


def test_handled_rows_are_visibly_marked(app, rows) -> None:
    target = rows["bookings"][0]
    call(app, "post", f"/staff/api/bookings/{target.id}/handled", headers=BEARER)
    page = call(app, "get", "/staff", headers=BEARER).text
    card = re.search(
        rf'<li class="card ([^"]+)">\s*<div class="card-head">\s*'
        rf'<h3 class="card-title"><span class="ref">{target.reference}',
        page,
    )
    assert card and card.group(1) == "is-handled"
    assert page.count('class="card is-handled"') == 1
    assert page.count("Mark handled") == 6
    # Handled items come after the open ones, and a handled booking no longer says "Requested".
    assert page.index(target.reference) > max(page.index(b.reference) for b in rows["bookings"][1:])
    handled_card = page[page.index(target.reference) :].split("</li>")[0]
    assert "badge-handled" in handled_card and "Requested" not in handled_card


def test_markup_in_a_visitors_name_is_escaped(app, db_url) -> None:
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    repository.create_booking(
        name=hostile[:80],
        contact_method="email",
        contact=VISITOR_EMAIL,
        timezone="UTC",
        consent=True,
        time_preference="<b>any</b>",
        url=db_url,
    )
    repository.create_handoff(
        name="Eve",
        contact_method="email",
        contact=VISITOR_EMAIL,
        message="</td></tr><script>x()</script>",
        url=db_url,
    )
    page = call(app, "get", "/staff", headers=BEARER).text
    assert "<script" not in page and "<img" not in page and "<b>any" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;script&gt;" in page


def test_static_stylesheet_is_served(app) -> None:
    response = call(app, "get", "/static/staff.css")
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in response.text


# --------------------------------------------------------------------------- CSV export


def read_csv(response):
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def test_csv_export_quotes_properly_and_defuses_formulas(app, db_url) -> None:
    names = ['=HYPERLINK("http://evil","x")', "+SUM(A1:A9)", "-2+3", "@cmd", 'Plain, "quoted" name']
    for name in names:
        repository.create_handoff(
            name=name,
            contact_method="phone",
            contact="+44 20 7946 0000",
            message="line one\nline, two",
            url=db_url,
        )
    table = read_csv(call(app, "get", "/staff/export/handoffs.csv", headers=BEARER))
    header, body = table[0], table[1:]
    assert header[:4] == ["id", "reference", "created_at", "name"]
    column = {name: header.index(name) for name in header}
    assert [row[column["name"]] for row in body] == [
        "'" + n if n[0] in "=+-@" else n for n in reversed(names)
    ]
    assert all(row[column["contact"]] == "'+44 20 7946 0000" for row in body)
    assert all(row[column["message"]] == "line one\nline, two" for row in body)
    assert all(row[column["transcript_consent"]] == "false" for row in body)
    for row in body:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@")), cell


def test_csv_cell_rules() -> None:
    assert staff.csv_cell(None) == ""
    assert staff.csv_cell(True) == "true"
    assert staff.csv_cell("=1+1") == "'=1+1"
    assert staff.csv_cell("  =1+1") == "'  =1+1"
    assert staff.csv_cell("\t=1") == "'\t=1"
    assert staff.csv_cell("a=b") == "a=b"
    assert staff.csv_cell(datetime(2030, 1, 2, 3, 4, tzinfo=UTC)) == "2030-01-02T03:04:00+00:00"


def test_csv_export_of_every_kind_and_unknown_names(app, rows) -> None:
    for kind, created in rows.items():
        table = read_csv(call(app, "get", f"/staff/export/{kind}.csv", headers=BEARER))
        assert [int(row[0]) for row in table[1:]] == [record.id for record in reversed(created)]
    for bad in ("/staff/export/bookings.txt", "/staff/export/visitors.csv", "/staff/export/bookings"):
        assert call(app, "get", bad, headers=BEARER).status == 404


# --------------------------------------------------------------------------- browser sign-in


def test_login_cookie_flow(app, rows, db_url) -> None:
    form = call(app, "get", "/staff/login")
    assert form.status == 200
    assert '<label for="password">' in form.text and 'type="password"' in form.text
    assert "HAVEN_" not in form.text and "TOKEN" not in form.text  # the sign-in page names no settings

    wrong = staff_signin.post_login(app, "Not the password 99", HOST, SAME_ORIGIN)
    assert wrong.status == 401 and f"{staff.COOKIE}=" not in wrong.headers.get("set-cookie", "")
    assert 'role="alert"' in wrong.text
    assert_no_data(wrong, rows)

    response = staff_signin.post_login(app, staff_signin.PASSWORD, HOST, SAME_ORIGIN)
    assert response.status == 303 and response.headers["location"] == "/staff"
    set_cookie = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{staff.COOKIE}=")][0]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in set_cookie.split(";")}
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "samesite=strict"
    assert attributes["path"] == "Path=/staff"
    assert "secure" not in attributes  # plain http here; https: see the next test
    assert staff_signin.PASSWORD not in set_cookie and TOKEN not in set_cookie
    session_value = re.search(rf"{staff.COOKIE}=([^;]+)", set_cookie).group(1)

    page = call(app, "get", "/staff", headers=cookie_header(session_value))
    assert page.status == 200 and VISITOR in page.text
    api = call(app, "get", "/staff/api/bookings", headers=cookie_header(session_value))
    assert api.status == 200 and len(api.json["items"]) == 3

    target = rows["bookings"][1]
    done = call(
        app,
        "post",
        f"/staff/bookings/{target.id}/handled",
        data={"csrf_token": csrf_from(page.text)},
        headers={**cookie_header(session_value), "Origin": SAME_ORIGIN},
    )
    assert done.status == 303 and done.headers["location"].startswith("/staff?undo=bookings&ids=")
    assert done.headers["location"].endswith("#bookings")
    assert repository.get_booking(target.reference, url=db_url).handled_at is not None

    out = call(
        app,
        "post",
        "/staff/logout",
        data={"csrf_token": csrf_from(page.text)},
        headers={**cookie_header(session_value), "Origin": SAME_ORIGIN},
    )
    assert out.status == 303 and out.headers["location"] == "/staff/login"
    assert re.search(rf"{staff.COOKIE}=(\"\"|;)", out.headers["set-cookie"])
    assert "Max-Age=0" in out.headers["set-cookie"] and "Path=/staff" in out.headers["set-cookie"]


def test_a_configured_site_origin_is_accepted(db_url, rows, staff_password) -> None:
    app = make_app(db_url, HAVEN_SITE_ORIGIN="https://therapist.example.org")
    response = staff_signin.post_login(app, staff_password, HOST, "https://therapist.example.org")
    assert response.status == 303
    assert "Secure" in response.headers["set-cookie"]


# --------------------------------------------------------------------------- CSRF / origin


@pytest.mark.parametrize(
    "extra,use_csrf",
    [
        ({"Origin": "https://evil.example"}, True),
        ({"Referer": "https://evil.example/page"}, True),
        ({"Origin": f"{SAME_ORIGIN}.evil.example"}, True),
        ({"Origin": "null"}, True),
        ({"Origin": SAME_ORIGIN}, False),
        ({"Origin": SAME_ORIGIN}, "wrong"),
        ({"Origin": SAME_ORIGIN}, "other-session"),
        ({}, False),
    ],
    ids=[
        "foreign-origin",
        "foreign-referer",
        "lookalike-origin",
        "origin-null",
        "no-csrf",
        "wrong-csrf",
        "other-session",
        "bare",
    ],
)
def test_browser_posts_need_the_site_and_a_csrf_token(app, rows, db_url, extra, use_csrf) -> None:
    session_value = sign_in(app)
    token = {
        True: staff.csrf_token(session_value),
        "wrong": "0" * 64,
        "other-session": staff.csrf_token(sign_in(app)),
        False: None,
    }[use_csrf]
    data = {"csrf_token": token} if token else {}
    target = rows["bookings"][0]
    html = call(
        app,
        "post",
        f"/staff/bookings/{target.id}/handled",
        data=data,
        headers={**cookie_header(session_value), **extra},
    )
    assert html.status == 403
    headers = {**cookie_header(session_value), **extra, **({staff.CSRF_HEADER: token} if token else {})}
    api = call(app, "post", f"/staff/api/bookings/{target.id}/handled", headers=headers)
    assert api.status == 403 and "error" in api.json
    assert repository.get_booking(target.reference, url=db_url).handled_at is None


def test_a_csrf_token_is_enough_when_the_browser_sends_no_origin(app, rows, db_url) -> None:
    session_value = sign_in(app)
    target = rows["safety-events"][0]
    response = call(
        app,
        "post",
        f"/staff/safety-events/{target.id}/handled",
        data={"csrf_token": staff.csrf_token(session_value)},
        headers=cookie_header(session_value),
    )
    assert response.status == 303
    assert repository.list_safety_events(url=db_url)[-1].handled_at is not None


def test_cross_site_sign_in_is_refused(app) -> None:
    for origin in ("https://evil.example", "null"):
        response = staff_signin.post_login(app, staff_signin.PASSWORD, HOST, origin)
        assert response.status == 403 and f"{staff.COOKIE}=" not in response.headers.get("set-cookie", "")


# --------------------------------------------------------------------------- database down


def test_unreachable_database_gives_503_not_a_traceback() -> None:
    url = f"postgresql+psycopg2://haven@127.0.0.1:{free_port()}/haven"
    app = make_app(url)
    try:
        api = call(app, "get", "/staff/api/bookings", headers=BEARER)
        assert api.status == 503 and "try again" in api.json["error"]
        page = call(app, "get", "/staff", headers=BEARER)
        assert page.status == 503 and "try again" in page.text and "Traceback" not in page.text
        export = call(app, "get", "/staff/export/bookings.csv", headers=BEARER)
        assert export.status == 503
        # The public site does not depend on the database.
        assert call(app, "get", "/health").status == 200
        # Still no data without a credential.
        assert call(app, "get", "/staff/api/bookings").status == 401
    finally:
        session.dispose_engine(url)


@pytest.mark.parametrize(
    "error",
    [repository.DatabaseUnavailable("locked"), OperationalError("SELECT", {}, Exception("disk I/O error"))],
    ids=["unavailable", "operational"],
)
def test_database_errors_during_a_request_give_503(app, rows, monkeypatch, error) -> None:
    def fail(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(repository, "list_bookings", fail)
    monkeypatch.setattr(repository, "mark_handled", fail)
    monkeypatch.setattr(inbox_db, "counts", fail)
    monkeypatch.setattr(inbox_db, "page", fail)
    api = call(app, "get", "/staff/api/bookings", headers=BEARER)
    assert api.status == 503 and api.json == {"error": staff.UNAVAILABLE_MESSAGE}
    page = call(app, "get", "/staff", headers=BEARER)
    assert page.status == 503 and "try again" in page.text
    post = call(app, "post", f"/staff/api/bookings/{rows['bookings'][0].id}/handled", headers=BEARER)
    assert post.status == 503 and "Traceback" not in post.text
