"""Who is asking, and may they post: the bearer token, the sign-in cookies and CSRF.

Why it is built this way:
- Scripts send `Authorization: Bearer <token>`; a browser signs in once and then carries a cookie
  holding a random session id that the server keeps (haven/db/staff_accounts.py), never the token.
- Browser POSTs (cookie credential) need a CSRF token bound to the session and must not come from
  a foreign Origin/Referer; SameSite=Strict is the third layer. Sign-in has no session yet, so its
  form is checked against a pre-sign-in cookie instead (double submit).
- Every cookie is HttpOnly, SameSite=Strict, scoped to /staff and Secure whenever the site is
  served over HTTPS, set in one place (set_cookie) so no cookie can be set differently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from urllib.parse import urlsplit

from sanic.request import Request
from sanic.response import HTTPResponse

from haven.db import staff_accounts as accounts
from website.staff.data import db

PREFIX = "/staff"
COOKIE = "haven_staff"
LOGIN_COOKIE = "haven_staff_login"
#: The cookie's own lifetime; the server ends the session sooner (12 h idle, 7 days in all).
SESSION_SECONDS = int(accounts.SESSION_ABSOLUTE.total_seconds())
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MAX_COOKIE = 256


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


async def authenticate(request: Request) -> Credential | None:
    """A bearer token (scripts, the calendar) or a live server-side session (a signed-in browser)."""
    token = request.app.ctx.settings.staff_token
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return Credential("bearer") if token and _token_matches(value.strip(), token) else None
    session = request.cookies.get(COOKIE)
    if not session or len(session) > MAX_COOKIE:
        return None
    if await db(request, accounts.session_user, session) is None:
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
    return supplied if len(supplied) <= MAX_COOKIE else ""


def csrf_ok(request: Request, session: str) -> bool:
    """A same-site (or Origin-less) post carrying this session's CSRF token."""
    if _origin_state(request) == "foreign":
        return False
    supplied = _supplied_csrf(request)
    return bool(supplied) and hmac.compare_digest(
        supplied.encode("ascii", "replace"), csrf_token(session).encode()
    )


def login_csrf_ok(request: Request) -> bool:
    """Sign-in has no session yet: the form's token must equal the pre-sign-in cookie (double submit)."""
    if _origin_state(request) == "foreign":
        return False
    cookie = request.cookies.get(LOGIN_COOKIE) or ""
    supplied = _supplied_csrf(request)
    return (
        len(cookie) >= 32
        and len(cookie) <= MAX_COOKIE
        and hmac.compare_digest(supplied.encode("ascii", "replace"), cookie.encode("ascii", "replace"))
    )


def client_address(request: Request) -> str:
    """The forwarded address when HAVEN_PROXIES_COUNT trusts a proxy, else the socket's."""
    return (request.remote_addr or request.ip or "unknown")[:64]


def _secure_cookie(request: Request) -> bool:
    origin = request.app.ctx.settings.site_origin or ""
    return request.scheme == "https" or origin.startswith("https://")


def set_cookie(request: Request, resp: HTTPResponse, name: str, value: str, max_age: int) -> None:
    """Every staff cookie: /staff only, HttpOnly, SameSite=Strict, Secure over HTTPS (max_age 0 clears)."""
    resp.cookies[name] = value
    cookie = resp.cookies[name]
    cookie["path"] = PREFIX
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["max-age"] = max_age
    if _secure_cookie(request):
        cookie["secure"] = True
