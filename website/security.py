"""Response headers every page of the site carries (no inline script, no framing, no referrer leaks),
and CORS for the widget's small JSON API.

CORS: the widget may sit on the therapist's own site, another origin than this server, and calls
`/api/...` from there. Only the origins of settings.allowed_origins (the site's own address unless
HAVEN_CORS_ORIGINS lists others) get `Access-Control-Allow-Origin`; any other Origin gets none, so
the browser keeps the answer from that page. Nothing else (the staff inbox above all) is ever
shared cross-origin, and no credentials are: the API uses no cookies.
"""

from __future__ import annotations

from typing import Optional

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
CORS_PREFIX = "/api/"
CORS_METHODS = "GET, POST, OPTIONS"
CORS_MAX_AGE = "600"
HSTS = "max-age=31536000"


def content_security_policy(connect_src: str) -> str:
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {connect_src}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
        "object-src 'none'"
    )


def allowed_origin(request: Request) -> Optional[str]:
    """The request's Origin when it may read this API's answers, else None."""
    origin = (request.headers.get("origin") or "").strip().rstrip("/")
    if not origin or not request.path.startswith(CORS_PREFIX):
        return None
    allowed = {o.lower() for o in request.app.ctx.settings.allowed_origins}
    return origin if origin.lower() in allowed else None


def install(app: Sanic) -> None:
    settings = app.ctx.settings
    csp = content_security_policy(settings.rasa_url + " " + settings.rasa_url.replace("http", "ws", 1))
    https = settings.site_url.startswith("https://")

    @app.on_request
    async def preflight(request: Request) -> Optional[HTTPResponse]:
        if request.method != "OPTIONS" or not request.path.startswith(CORS_PREFIX):
            return None
        # Answered here for every /api path: allowed origins get the CORS headers (added below),
        # others an empty answer the browser will not act on.
        headers = {}
        if allowed_origin(request):
            headers = {
                "Access-Control-Allow-Methods": CORS_METHODS,
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": CORS_MAX_AGE,
            }
        return response.empty(status=204, headers=headers)

    @app.on_response
    async def add_headers(request: Request, resp: HTTPResponse) -> None:
        for name, value in HEADERS.items():
            resp.headers.setdefault(name, value)
        resp.headers.setdefault("Content-Security-Policy", csp)
        if https:
            resp.headers.setdefault("Strict-Transport-Security", HSTS)
        if request.path.startswith(CORS_PREFIX):
            resp.headers["Vary"] = "Origin"
            origin = allowed_origin(request)
            if origin:
                resp.headers["Access-Control-Allow-Origin"] = origin
