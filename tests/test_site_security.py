"""The website server's own defences, through sanic's test client: security headers and no inline
script on every page, CORS only for the allowed origins, and the per-client rate limit."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Dict, List

import pytest

from haven import settings as settings_module
from haven.db import repository
from tests.sanic_server import served
from website import staff as staff_module
from website.app import create_app
from website.ratelimit import MAX_KEYS, TokenBuckets

STAFF = "staff-token-for-security-tests-0123456789"
SITE = "http://localhost:8123"
FOREIGN = "https://evil.example"


@pytest.fixture
def db_url(db_url):
    """The conftest's database, with something to show that has markup in it: the inbox must escape it."""
    repository.create_booking(
        name="<script>alert(1)</script>", contact_method="email", contact="x@example.org",
        timezone="UTC", consent=True, time_preference="<img src=x onerror=alert(2)>", url=db_url,
    )  # fmt: skip
    return db_url


def make_app(db_url: str, **env: str):
    values = {"SITE_PORT": "8123", "RASA_PORT": "5123", "DATABASE_URL": db_url, "HAVEN_STAFF_TOKEN": STAFF}
    return create_app(settings_module.load({**values, **env}))


@pytest.fixture
def app(db_url):
    with served(make_app(db_url)) as app:
        yield app


def get(app, path: str, method: str = "get", headers: Dict[str, str] | None = None):
    _, response = getattr(app.test_client, method)(path, headers=headers or {}, allow_redirects=False)
    return response


BEARER = {"Authorization": f"Bearer {STAFF}"}
# (method, path, headers): every kind of answer the site gives, good and bad.
PAGES = [
    ("get", "/", {}),
    ("get", "/health", {}),
    ("get", "/static/haven-widget.js", {}),
    ("get", "/static/haven-widget.css", {}),
    ("get", "/static/site.css", {}),
    ("get", "/static/nope.js", {}),
    ("get", "/api/crisis-resources", {}),
    ("post", "/api/conversations/short/forget", {}),
    ("get", "/staff", {}),
    ("get", "/staff", BEARER),
    ("get", "/staff/login", {}),
    ("get", "/staff/api/bookings", {}),
    ("get", "/staff/api/bookings", BEARER),
    ("get", "/staff/export/bookings.csv", BEARER),
    ("get", "/nope", {}),
    ("delete", "/", {}),
]


@pytest.mark.parametrize(("method", "path", "headers"), PAGES)
def test_every_answer_carries_the_security_headers(app, method, path, headers) -> None:
    response = get(app, path, method, headers)
    assert response.status < 500, (path, response.status)
    csp = response.headers["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                      "frame-ancestors 'none'", "base-uri 'none'"):  # fmt: skip
        assert directive in csp, (path, directive)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "*" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] in ("no-referrer", "same-origin")
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert "strict-transport-security" not in response.headers  # plain http: HSTS would be a lie


def test_https_sites_send_hsts(db_url) -> None:
    response = get(make_app(db_url, HAVEN_SITE_ORIGIN="https://therapist.example"), "/")
    assert response.headers["strict-transport-security"].startswith("max-age=")


class _InlineFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.problems: List[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs) -> None:
        names = {name.lower() for name, _ in attrs}
        if tag == "script":
            self._in_script = True
            if "src" not in names:
                self.problems.append("<script> without src")
        if tag == "style":
            self.problems.append("<style> element")
        self.problems += [f"{tag} {n}=" for n in names if n.startswith("on") or n == "style"]
        self.problems += [
            f"{tag} {n}=javascript:" for n, v in attrs if (v or "").lower().startswith("javascript:")
        ]

    def handle_endtag(self, tag) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data) -> None:
        if self._in_script and data.strip():
            self.problems.append("inline script text")


@pytest.mark.parametrize(
    ("path", "headers"), [("/", {}), ("/staff/login", {}), ("/staff", BEARER), ("/staff", {})]
)
def test_no_page_has_inline_script_or_style(app, path, headers) -> None:
    response = get(app, path, headers=headers)
    assert response.status in (200, 401)
    finder = _InlineFinder()
    finder.feed(response.text)
    assert finder.problems == [], path


def test_markup_a_visitor_typed_is_shown_as_text_in_the_inbox(app) -> None:
    page = get(app, "/staff", headers=BEARER).text
    assert "<script>alert(1)</script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# --------------------------------------------------------------------------- CORS


def test_a_foreign_origin_gets_no_cors_header(app) -> None:
    response = get(app, "/api/crisis-resources", headers={"Origin": FOREIGN})
    assert response.status == 200
    assert "access-control-allow-origin" not in response.headers
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize("origin", [SITE, "http://127.0.0.1:8123"])
def test_the_sites_own_origin_may_read_the_api(app, origin) -> None:
    response = get(app, "/api/crisis-resources", headers={"Origin": origin})
    assert response.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-credentials" not in response.headers


def test_configured_origins_replace_the_default(db_url) -> None:
    origins = "https://therapist.example, https://www.therapist.example"
    with served(make_app(db_url, HAVEN_CORS_ORIGINS=origins)) as app:
        ok = get(app, "/api/crisis-resources", headers={"Origin": "https://www.therapist.example"})
        assert ok.headers["access-control-allow-origin"] == "https://www.therapist.example"
        other = get(app, "/api/crisis-resources", headers={"Origin": SITE})
        assert "access-control-allow-origin" not in other.headers


def test_a_preflight_is_answered_only_for_allowed_origins(app) -> None:
    path = "/api/conversations/0123456789abcdef0123456789abcdef/forget"
    allowed = get(app, path, "options", {"Origin": SITE, "Access-Control-Request-Method": "POST"})
    assert allowed.status == 204 and allowed.headers["access-control-allow-origin"] == SITE
    assert "POST" in allowed.headers["access-control-allow-methods"]
    foreign = get(app, path, "options", {"Origin": FOREIGN, "Access-Control-Request-Method": "POST"})
    assert foreign.status == 204 and "access-control-allow-origin" not in foreign.headers


@pytest.mark.parametrize("path", ["/staff/api/bookings", "/staff/login", "/"])
def test_nothing_outside_the_api_is_shared_cross_origin(app, path) -> None:
    response = get(app, path, headers={"Origin": SITE, **BEARER})
    assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("bad", ["*", "evil.example", "https://a.example/path", "ftp://a.example"])
def test_a_malformed_cors_setting_is_refused(bad) -> None:
    with pytest.raises(ValueError, match="HAVEN_CORS_ORIGINS"):
        settings_module.load({"HAVEN_CORS_ORIGINS": bad})


def test_the_default_origins_are_the_sites_own_address() -> None:
    assert settings_module.load({"SITE_PORT": "8123"}).allowed_origins == [SITE, "http://127.0.0.1:8123"]
    configured = settings_module.load({"HAVEN_SITE_ORIGIN": "https://therapist.example/"})
    assert configured.allowed_origins == ["https://therapist.example"]


# --------------------------------------------------------------------------- rate limit


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = _Clock()
    buckets = TokenBuckets(per_minute=60, burst=3, clock=clock)
    assert [buckets.take("a")[0] for _ in range(3)] == [True, True, True]
    allowed, wait = buckets.take("a")
    assert not allowed and wait == pytest.approx(1.0)
    assert buckets.take("b")[0], "another client has its own bucket"
    clock.now += 1.0
    assert buckets.take("a")[0] and not buckets.take("a")[0]
    clock.now += 3600
    assert [buckets.take("a")[0] for _ in range(4)] == [True, True, True, False], "never more than the burst"


def test_token_buckets_stay_bounded_in_memory() -> None:
    buckets = TokenBuckets(per_minute=60, burst=1, clock=_Clock(), max_keys=MAX_KEYS)
    for n in range(MAX_KEYS + 500):
        buckets.take(f"client-{n}")
    assert len(buckets) == MAX_KEYS


def limited_app(db_url, **env):
    return make_app(db_url, HAVEN_RATE_LIMIT_PER_MINUTE="6", HAVEN_RATE_LIMIT_BURST="3", **env)


def test_too_many_requests_get_429_with_retry_after_and_a_json_error(db_url) -> None:
    app = limited_app(db_url)
    statuses = [get(app, "/api/crisis-resources").status for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = get(app, "/api/crisis-resources")
    assert refused.status == 429
    assert refused.json == {"error": "rate_limited", "retry_after": 10}
    assert refused.headers["retry-after"] == "10"
    assert "script-src 'self'" in refused.headers["content-security-policy"]
    assert get(app, "/").status == 429, "the limit is per client, across routes"
    assert all(get(app, "/health").status == 200 for _ in range(10)), "health checks are never limited"


def test_the_limit_is_per_client_behind_a_trusted_proxy(db_url) -> None:
    app = limited_app(db_url, HAVEN_PROXIES_COUNT="1")
    one = {"X-Forwarded-For": "203.0.113.1"}
    two = {"X-Forwarded-For": "203.0.113.2"}
    assert [get(app, "/", headers=one).status for _ in range(4)] == [200, 200, 200, 429]
    assert get(app, "/", headers=two).status == 200


def test_forgetting_one_conversation_is_limited_per_sender_too(db_url) -> None:
    app = limited_app(db_url, HAVEN_PROXIES_COUNT="1")
    path = "/api/conversations/0123456789abcdef0123456789abcdef/forget"
    statuses = [get(app, path, "post", {"X-Forwarded-For": f"203.0.113.{n}"}).status for n in range(5)]
    assert statuses[:3] == [503, 503, 503]  # no Rasa API token in these settings: a calm 503
    assert statuses[3:] == [429, 429]


def test_a_rate_of_zero_turns_the_limit_off(db_url) -> None:
    with served(make_app(db_url, HAVEN_RATE_LIMIT_PER_MINUTE="0", HAVEN_RATE_LIMIT_BURST="1")) as app:
        assert all(get(app, "/api/crisis-resources").status == 200 for _ in range(50))


@pytest.mark.parametrize("bad", ["-1", "many"])
def test_a_malformed_rate_setting_is_refused(bad) -> None:
    with pytest.raises(ValueError, match="HAVEN_RATE_LIMIT_BURST"):
        settings_module.load({"HAVEN_RATE_LIMIT_BURST": bad})


# --------------------------------------------------------------------------- the staff API on bad input

BAD_AUTH = [
    "",
    "Bearer",
    "Bearer wrong-token",
    f"Basic {STAFF}",
    f"Bearer {STAFF} extra",
    "Bearer ' OR '1'='1",
    "Bearer " + "x" * 4000,
    "Bearer \u202e" + STAFF,
]


@pytest.mark.parametrize("authorization", BAD_AUTH)
def test_bad_staff_credentials_get_a_clean_401(app, authorization) -> None:
    headers = {"Authorization": authorization.encode("utf-8")}
    _, response = app.test_client.get("/staff/api/bookings", headers=headers)
    assert response.status == 401, authorization[:40]
    assert response.json == {"error": staff_module.UNAUTHORISED_MESSAGE}


def test_a_token_that_is_not_utf8_gets_401_not_500(app) -> None:
    _, response = app.test_client.get("/staff/api/bookings", headers={"Authorization": b"Bearer t\xe9st\xff"})
    assert response.status == 401


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/staff/api/bookings/99999999999999999999999/handled", 404),
        ("/staff/api/bookings/9223372036854775808/handled", 404),
        ("/staff/api/bookings/0/handled", 404),
        ("/staff/api/bookings/-1/handled", 404),
        ("/staff/api/bookings/1.5/handled", 404),
        ("/staff/api/bookings'%20OR%201=1--/1/handled", 404),
        ("/staff/api/%3Cscript%3E/1/handled", 404),
    ],
)
def test_odd_staff_api_paths_get_404_not_500(app, path, status) -> None:
    _, response = app.test_client.post(path, headers=BEARER)
    assert response.status == status, response.text
    assert "<script>" not in response.text


@pytest.mark.parametrize("kind", ["bookings' OR '1'='1", "..%2F..%2Fetc%2Fpasswd", "%00", "x" * 5000])
def test_unknown_staff_api_kinds_get_404(app, kind) -> None:
    _, response = app.test_client.get(f"/staff/api/{kind}", headers=BEARER)
    assert response.status in (404, 414), kind[:20]


def test_the_site_keeps_answering_after_all_of_that(app) -> None:
    for authorization in BAD_AUTH:
        app.test_client.get("/staff/api/bookings", headers={"Authorization": authorization.encode()})
    _, response = app.test_client.get("/staff/api/bookings", headers=BEARER)
    assert response.status == 200 and response.json["items"][0]["name"] == "<script>alert(1)</script>"


def test_static_files_cost_nothing_from_the_budget(db_url) -> None:
    app = limited_app(db_url)
    assert all(get(app, "/static/haven-widget.js").status == 200 for _ in range(10))
    assert [get(app, "/").status for _ in range(4)] == [200, 200, 200, 429]


def test_the_default_limit_allows_a_busy_shared_address() -> None:
    defaults = settings_module.load({})
    assert defaults.rate_limit_per_minute >= 120 and defaults.rate_limit_burst >= 30


# --------------------------------------------------------------------------- the real servers


def _http(url: str, method: str = "GET", headers: Dict[str, str] | None = None, body: bytes | None = None):
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.mark.e2e
@pytest.mark.model
@pytest.mark.parametrize("method", ["POST", "OPTIONS"])
def test_the_rasa_server_shares_answers_only_with_the_sites_origin(live_haven, method) -> None:
    url = f"{live_haven.rasa}/webhooks/rest/webhook"
    body = b'{"sender": "cors-check-0001", "message": "hi"}' if method == "POST" else None
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
    extra = preflight if method == "OPTIONS" else {"Content-Type": "application/json"}
    _, foreign, _ = _http(url, method, {"Origin": FOREIGN, **extra}, body)
    assert foreign.get("Access-Control-Allow-Origin") in (None, "")
    own = f"http://localhost:{live_haven.settings.site_port}"
    _, allowed, _ = _http(url, method, {"Origin": own, **extra}, body)
    assert allowed.get("Access-Control-Allow-Origin") == own


@pytest.mark.e2e
@pytest.mark.model
def test_the_website_server_shares_its_api_only_with_the_sites_origin(live_haven) -> None:
    url = f"{live_haven.site}/api/crisis-resources"
    _, foreign, _ = _http(url, headers={"Origin": FOREIGN})
    assert foreign.get("Access-Control-Allow-Origin") is None
    own = f"http://127.0.0.1:{live_haven.settings.site_port}"
    _, allowed, _ = _http(url, headers={"Origin": own})
    assert allowed.get("Access-Control-Allow-Origin") == own


@pytest.mark.e2e
def test_the_running_website_server_limits_a_client_and_says_when_to_come_back(tmp_path) -> None:
    import os
    import subprocess
    import sys
    import time

    from haven.ops import processes
    from haven.settings import ROOT

    port = processes.free_port()
    env = {
        **os.environ,
        "SITE_PORT": str(port),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'haven.db'}",
        "HAVEN_RATE_LIMIT_PER_MINUTE": "6",
        "HAVEN_RATE_LIMIT_BURST": "3",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "website"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while _http_or_none(f"{base}/health") != 200:
            assert server.poll() is None and time.monotonic() < deadline, "the website server did not start"
            time.sleep(0.3)
        statuses = [_http(f"{base}/api/crisis-resources")[0] for _ in range(3)]
        status, headers, body = _http(f"{base}/api/crisis-resources")
        assert statuses == [200, 200, 200] and status == 429
        assert headers["Retry-After"] == "10" and json.loads(body) == {
            "error": "rate_limited",
            "retry_after": 10,
        }
        assert _http(f"{base}/health")[0] == 200
    finally:
        server.terminate()
        server.wait(timeout=30)


def _http_or_none(url: str):
    try:
        return _http(url)[0]
    except OSError:
        return None


# --------------------------------------------------------------------------- issue 12.7, the small ones


@pytest.mark.parametrize(
    "cell",
    ["＝1+1", "＋SUM(A1:A9)", "－2+3", "＠cmd", ";=1+1", ' ;=HYPERLINK("x")', "\t=1", "\n=1", ";cmd"],
)
def test_csv_defuses_fullwidth_and_semicolon_led_formulas(cell) -> None:
    assert staff_module.csv_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Robin", "a;b", "x=1", "name ＝ value", "O'Neil"])
def test_csv_leaves_ordinary_text_alone(cell) -> None:
    assert staff_module.csv_cell(cell) == cell


@pytest.mark.parametrize(
    "path", ["/static/", "/static//", "/static/nope.css", "/static/%2e%2e/app.py", "/static/..%2fapp.py"]
)
def test_static_misses_are_a_404_logged_at_info(app, caplog, path) -> None:
    caplog.set_level("INFO")
    response = get(app, path)
    assert response.status == 404
    assert "Traceback" not in response.text
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")], caplog.text
    assert get(app, "/static/haven-widget.css").status == 200
