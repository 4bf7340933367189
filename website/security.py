"""Response headers every page of the site carries: no inline script, no framing, no referrer leaks."""

from __future__ import annotations

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-store",
}


def content_security_policy(connect_src: str) -> str:
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {connect_src}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )


def install(app: Sanic) -> None:
    settings = app.ctx.settings
    csp = content_security_policy(settings.rasa_url + " " + settings.rasa_url.replace("http", "ws", 1))

    @app.on_response
    async def add_headers(_: Request, response: HTTPResponse) -> None:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("Content-Security-Policy", csp)
