"""Staff accounts (issue 12.1): password sign-in, lockout, sessions, CSRF, the sign-in log.

Through sanic's test client on a migrated SQLite database; the clock is moved by patching
haven.db.models.utcnow (what every lockout and session rule reads).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text

from haven.db import models, session
from haven.db import staff_accounts as accounts
from haven.settings import ROOT
from tests import staff_signin
from tests.sanic_server import served
from tests.test_staff import BEARER, HOST, SAME_ORIGIN, call, cookie_header, csrf_from, make_app
from website import staff, staff_auth

PASSWORD = staff_signin.PASSWORD
WRONG = "Not the right password 7"


@pytest.fixture
def app(db_url, staff_password):
    # Trust one proxy, so X-Forwarded-For plays the part of many client addresses.
    with served(make_app(db_url, HAVEN_PROXIES_COUNT="1", HAVEN_RATE_LIMIT_PER_MINUTE="0")) as app:
        yield app


@pytest.fixture
def clock(monkeypatch):
    """Move time forward with clock.advance(timedelta); every rule reads models.utcnow."""

    class Clock:
        now = models.utcnow()

        def advance(self, delta: timedelta) -> None:
            self.now += delta

    state = Clock()
    monkeypatch.setattr(accounts, "utcnow", lambda: state.now)
    return state


def attempt(app, password: str, address: str, username: str = staff_signin.USERNAME):
    return staff_signin.post_login(
        app, password, HOST, SAME_ORIGIN, username=username, **{"X-Forwarded-For": address}
    )


def rows(db_url, sql: str):
    with session.get_engine(db_url).connect() as connection:
        return connection.execute(text(sql)).all()


# --------------------------------------------------------------------------- throttling


def test_fifteen_wrong_passwords_from_many_addresses_are_throttled_then_the_right_one_works(
    app, db_url, clock
) -> None:
    statuses = []
    for n in range(15):
        response = attempt(app, WRONG, f"198.51.100.{n % 5 + 1}")  # five addresses, three tries each
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.headers["retry-after"]) > 0
            assert "Too many sign-in attempts" in response.text
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 10
    locked = attempt(app, PASSWORD, "203.0.113.9")  # the right password, a fresh address: still locked
    assert locked.status == 429 and 14 * 60 < int(locked.headers["retry-after"]) <= 15 * 60
    assert f"{staff.COOKIE}=" not in locked.headers.get("set-cookie", "")

    clock.advance(timedelta(minutes=15, seconds=1))
    assert attempt(app, PASSWORD, "203.0.113.9").status == 303

    # The next lockout in a row lasts twice as long (the successful sign-in above reset the doubling,
    # so lock twice without one).
    for _ in range(5):
        assert attempt(app, WRONG, "198.51.100.7").status == 401
    clock.advance(timedelta(minutes=15, seconds=1))
    for _ in range(5):
        assert attempt(app, WRONG, "198.51.100.8").status == 401
    second = attempt(app, PASSWORD, "198.51.100.9")
    assert second.status == 429 and 29 * 60 < int(second.headers["retry-after"]) <= 30 * 60


def test_one_address_is_throttled_whatever_username_it_tries(app, db_url, clock) -> None:
    for n in range(accounts.ADDRESS_LIMIT):
        assert attempt(app, WRONG, "192.0.2.50", username=f"guess{n}").status == 401
    refused = attempt(app, PASSWORD, "192.0.2.50")
    assert refused.status == 429 and int(refused.headers["retry-after"]) > 0
    # Another address (the therapist's) is not affected, nor is the account locked.
    assert attempt(app, PASSWORD, "192.0.2.51").status == 303
    clock.advance(accounts.ADDRESS_WINDOW + timedelta(seconds=1))
    assert attempt(app, PASSWORD, "192.0.2.50").status == 303


def test_the_sign_in_log_has_time_result_address_and_never_the_password(app, db_url) -> None:
    attempt(app, WRONG, "198.51.100.1")
    attempt(app, PASSWORD, "198.51.100.2")
    logged = rows(db_url, "SELECT created_at, username, result, client FROM staff_signins ORDER BY id")
    assert [(r.username, r.result, r.client) for r in logged] == [
        ("therapist", "wrong", "198.51.100.1"),
        ("therapist", "ok", "198.51.100.2"),
    ]
    assert all(r.created_at for r in logged)
    dump = "\n".join("".join(map(str, r)) for r in rows(db_url, "SELECT * FROM staff_signins"))
    dump += "".join(map(str, rows(db_url, "SELECT * FROM staff_accounts")[0]))
    assert PASSWORD not in dump and WRONG not in dump


# --------------------------------------------------------------------------- sessions


def test_a_copied_cookie_is_dead_after_sign_out(app) -> None:
    value = staff_signin.sign_in_test_client(app, PASSWORD, HOST, SAME_ORIGIN)
    page = call(app, "get", "/staff", headers=cookie_header(value))
    assert page.status == 200
    out = call(
        app,
        "post",
        "/staff/logout",
        data={"csrf_token": csrf_from(page.text)},
        headers={**cookie_header(value), "Origin": SAME_ORIGIN},
    )
    assert out.status == 303
    # The copy still presents the old value: the server has forgotten it.
    assert call(app, "get", "/staff/api/bookings", headers=cookie_header(value)).status == 401
    assert call(app, "get", "/staff", headers=cookie_header(value)).status == 401


def test_sign_out_needs_the_csrf_token_and_refuses_origin_null(app) -> None:
    value = staff_signin.sign_in_test_client(app, PASSWORD, HOST, SAME_ORIGIN)
    csrf = staff.csrf_token(value)
    missing = call(app, "post", "/staff/logout", headers={**cookie_header(value), "Origin": SAME_ORIGIN})
    assert missing.status == 403
    null = call(
        app,
        "post",
        "/staff/logout",
        data={"csrf_token": csrf},
        headers={**cookie_header(value), "Origin": "null"},
    )
    assert null.status == 403
    # Neither ended the session.
    assert call(app, "get", "/staff/api/bookings", headers=cookie_header(value)).status == 200


def test_sign_in_needs_the_form_token(app) -> None:
    csrf = staff_signin.login_csrf(app, HOST)
    form = staff_signin.login_form(PASSWORD, csrf)
    for headers, data in (
        ({"Origin": SAME_ORIGIN}, form),  # no pre-sign-in cookie
        ({"Origin": SAME_ORIGIN, "Cookie": f"{staff.LOGIN_COOKIE}={csrf}"}, {**form, "csrf_token": ""}),
        ({"Origin": SAME_ORIGIN, "Cookie": f"{staff.LOGIN_COOKIE}={'x' * 43}"}, form),
        ({"Origin": "null", "Cookie": f"{staff.LOGIN_COOKIE}={csrf}"}, form),
    ):
        response = call(app, "post", "/staff/login", data=data, headers=headers)
        assert response.status == 403, headers
        assert f"{staff.COOKIE}=" not in response.headers.get("set-cookie", "")


def test_a_password_change_ends_every_session(app, db_url) -> None:
    first = staff_signin.sign_in_test_client(app, PASSWORD, HOST, SAME_ORIGIN)
    second = staff_signin.sign_in_test_client(app, PASSWORD, HOST, SAME_ORIGIN)
    assert call(app, "get", "/staff/api/bookings", headers=cookie_header(first)).status == 200
    ended = staff_auth.set_password("therapist", "A brand new passphrase 2", url=db_url)
    assert ended == 2
    for value in (first, second):
        assert call(app, "get", "/staff/api/bookings", headers=cookie_header(value)).status == 401
    assert attempt(app, PASSWORD, "198.51.100.3").status == 401
    assert attempt(app, "A brand new passphrase 2", "198.51.100.3").status == 303
    # The bearer token is separate and unaffected.
    assert call(app, "get", "/staff/api/bookings", headers=BEARER).status == 200


def test_sessions_expire_after_12_hours_idle_and_7_days_in_all(app, clock) -> None:
    value = staff_signin.sign_in_test_client(app, PASSWORD, HOST, SAME_ORIGIN)
    start = clock.now
    for _ in range(20):  # active every 11 hours: alive for a week, then gone
        clock.advance(timedelta(hours=11))
        status = call(app, "get", "/staff/api/bookings", headers=cookie_header(value)).status
        if status != 200:
            break
    assert status == 401
    assert timedelta(days=7) < clock.now - start <= timedelta(days=7, hours=11)
    idle = staff_signin.sign_in_test_client(app, PASSWORD, HOST, SAME_ORIGIN)
    clock.advance(timedelta(hours=12, minutes=1))
    assert call(app, "get", "/staff/api/bookings", headers=cookie_header(idle)).status == 401


def test_the_session_is_stored_hashed_and_the_password_as_argon2id(app, db_url) -> None:
    staff_auth.set_password(staff_signin.USERNAME, PASSWORD, url=db_url)  # as `make staff-password` stores it
    value = staff_signin.sign_in_test_client(app, PASSWORD, HOST, SAME_ORIGIN)
    assert len(value) >= 43  # 32 random bytes
    stored = [r.id_hash for r in rows(db_url, "SELECT id_hash FROM staff_sessions")]
    assert stored == [accounts.session_key(value)] and value not in stored
    [(password_hash,)] = rows(db_url, "SELECT password_hash FROM staff_accounts")
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash
    assert not PasswordHasher().check_needs_rehash(password_hash), "argon2-cffi's default (RFC 9106) cost"


# --------------------------------------------------------------------------- password rules


@pytest.mark.parametrize(
    "password",
    [
        "short1A!",
        "alllowercaseletters",
        "ALLUPPERCASELETTERS",
        "123456789012345",
        "password1234",
        "aaaaaaaaaaaa1",
    ],
)
def test_weak_passwords_are_refused(db_url, password) -> None:
    assert staff_auth.strength_problem(password)
    with pytest.raises(ValueError):
        staff_auth.set_password("therapist", password, url=db_url)
    assert not accounts.password_is_set(url=db_url)


def test_a_good_password_is_accepted() -> None:
    assert staff_auth.strength_problem("Quiet harbour lantern 42") is None
    assert staff_auth.strength_problem("correct horse battery staple") is None  # spaces count as a class


def test_the_command_takes_no_password_argument_and_reads_none_from_the_environment(tmp_path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}"}
    result = subprocess.run(
        [sys.executable, "-m", "website.staff_auth", "Some password 123"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "never pass it on the command line" in result.stdout
    assert not (tmp_path / "h.db").exists()


# --------------------------------------------------------------------------- bearer token at start


@pytest.mark.parametrize("module", ["website", "haven.ops.launcher"])
def test_a_short_bearer_token_stops_the_start_with_one_line(tmp_path, module) -> None:
    env = {
        **os.environ,
        "HAVEN_STAFF_TOKEN": "too-short-token",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'h.db'}",
        "SITE_PORT": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", module], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert re.search(r"HAVEN_STAFF_TOKEN must be at least 32 characters", lines[0])
    assert "too-short-token" not in result.stderr


def test_purge_drops_sign_ins_older_than_90_days(app, db_url) -> None:
    from sqlalchemy import create_engine

    from haven.ops import retention

    attempt(app, WRONG, "198.51.100.4")
    engine = create_engine(db_url)
    try:
        assert retention.purge_staff_log(engine, models.utcnow() + timedelta(days=89)) == 0
        assert retention.purge_staff_log(engine, models.utcnow() + timedelta(days=91)) == 1
    finally:
        engine.dispose()
    assert rows(db_url, "SELECT * FROM staff_signins") == []
