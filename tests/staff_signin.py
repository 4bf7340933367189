"""The one place tests sign in to the staff pages, so the sign-in can change in one place.

Today the therapist signs in with the staff token (POST /staff/login, field `token`); the security
engineer's issue 12 replaces it with a password and server-side sessions.  On that merge, change
`TOKEN_FORM` / the bodies below and every inbox, insights and browser test follows.
"""

from __future__ import annotations

import re
from typing import Any, Dict

COOKIE = "haven_staff"
LOGIN_PATH = "/staff/login"


def login_form(token: str) -> Dict[str, str]:
    """The form a person fills in on the sign-in page."""
    return {"token": token}


def sign_in_test_client(app: Any, token: str, host: str, origin: str) -> str:
    """Sign in through sanic's test client; returns the session cookie's value."""
    _, response = app.test_client.post(
        LOGIN_PATH, data=login_form(token), headers={"Host": host, "Origin": origin}, allow_redirects=False
    )
    assert response.status == 303, response.text
    match = re.search(rf"{COOKIE}=([^;]+)", response.headers["set-cookie"])
    assert match, response.headers["set-cookie"]
    return match.group(1)


def sign_in_browser(page: Any, site: str, token: str) -> None:
    """Sign in with a Playwright page, as a person would: open the form, type, submit."""
    page.goto(f"{site}{LOGIN_PATH}")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site}/staff")
