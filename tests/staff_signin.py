"""The one place tests sign in to the staff pages, so the sign-in can change in one place.

The therapist signs in with a username and the password set by `make staff-password` (issue 12):
GET /staff/login hands out a pre-sign-in cookie and the same value as the form's `csrf_token`;
POST /staff/login with both starts a server-side session. `set_password` puts PASSWORD into a test
database (the `staff_password` fixture in tests/conftest.py calls it).
"""

from __future__ import annotations

import functools
import re
from typing import Any, Dict

COOKIE = "haven_staff"
LOGIN_COOKIE = "haven_staff_login"
LOGIN_PATH = "/staff/login"
USERNAME = "therapist"
PASSWORD = "Quiet harbour lantern 42"


def set_password(url: str, password: str = PASSWORD, username: str = USERNAME) -> None:
    """Stores the account as `make staff-password` does, with a low-cost argon2id hash computed once per
    password in a test run: the production cost (0.1 s a hash and a check, by design) would be paid on
    every one of hundreds of sign-ins. Signing in still verifies it for real, through the production
    `staff_auth.verify`, which reads the cost from the stored hash; the production parameters are
    tested where `make staff-password` stores a hash (tests/test_staff_auth.py)."""
    from website import staff_auth

    staff_auth.set_password(username, password, url=url, hasher=_hash)


@functools.cache
def _hash(password: str) -> str:
    from argon2 import PasswordHasher

    # argon2id, one pass over 1 MiB (production: argon2-cffi's defaults, RFC 9106's low-memory choice)
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)


def login_form(password: str, csrf: str, username: str = USERNAME) -> Dict[str, str]:
    """The form a person fills in on the sign-in page (the hidden csrf_token included)."""
    return {"username": username, "password": password, "csrf_token": csrf}


def login_csrf(app: Any, host: str) -> str:
    """GET the sign-in page; returns the pre-sign-in token (cookie and form field carry the same)."""
    _, response = app.test_client.get(LOGIN_PATH, headers={"Host": host})
    match = re.search(rf"{LOGIN_COOKIE}=([^;]+)", response.headers.get("set-cookie", ""))
    assert match, response.headers
    assert f'value="{match.group(1)}"' in response.text
    return match.group(1)


def post_login(app: Any, password: str, host: str, origin: str, username: str = USERNAME, **headers: str):
    """One sign-in attempt as a browser makes it; returns sanic's response."""
    csrf = login_csrf(app, host)
    _, response = app.test_client.post(
        LOGIN_PATH,
        data=login_form(password, csrf, username),
        headers={"Host": host, "Origin": origin, "Cookie": f"{LOGIN_COOKIE}={csrf}", **headers},
        allow_redirects=False,
    )
    return response


def sign_in_test_client(app: Any, password: str, host: str, origin: str) -> str:
    """Sign in through sanic's test client; returns the session cookie's value."""
    response = post_login(app, password, host, origin)
    assert response.status == 303, response.text
    match = re.search(rf"{COOKIE}=([^;]+)", response.headers["set-cookie"])
    assert match, response.headers["set-cookie"]
    return match.group(1)


def sign_in_browser(page: Any, site: str, password: str = PASSWORD) -> None:
    """Sign in with a Playwright page, as a person would: open the form, type, submit."""
    page.goto(f"{site}{LOGIN_PATH}")
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}/staff")
