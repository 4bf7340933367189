"""Sanic app factory for the website server (`python -m website`).

One factory, no globals: tests build an app with their own settings and call it through
`app.test_client` with no live server.
"""

from __future__ import annotations

import logging
from itertools import count
from pathlib import Path
from typing import Optional
from urllib.parse import unquote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic, response
from sanic.request import Request

from haven import settings as settings_module
from haven.settings import Settings
from website import ERROR_FORMAT, api, ratelimit, security, staff, widget
from website import article as article_module

STATIC_DIR = settings_module.ROOT / "website" / "static"
TEMPLATES = Environment(
    loader=FileSystemLoader(str(settings_module.ROOT / "website" / "templates")),
    autoescape=select_autoescape(["html"]),
)
_app_numbers = count()
log = logging.getLogger(__name__)


def create_app(settings: Optional[Settings] = None) -> Sanic:
    settings = settings or settings_module.load()
    app = Sanic(f"haven_site_{next(_app_numbers)}", register=False)
    app.config.REQUEST_MAX_SIZE = 1_000_000
    app.config.FALLBACK_ERROR_FORMAT = ERROR_FORMAT
    app.config.PROXIES_COUNT = settings.proxies_count
    app.ctx.settings = settings
    app.ctx.schema_ready = False
    ratelimit.install(app)
    security.install(app)

    @app.before_server_start
    async def migrate_database(app_: Sanic, _loop) -> None:
        # At start, not at import: importing the app must not touch the database. A database that
        # is down here does not stop the site; the staff pages retry and answer 503 meanwhile.
        await staff.ensure_schema(app_)

    @app.get("/health", error_format=ERROR_FORMAT)
    async def health(_: Request) -> response.HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/", error_format=ERROR_FORMAT)
    async def index(_: Request) -> response.HTTPResponse:
        # Read on each request (a small file): the therapist can edit the article without a restart.
        article = article_module.load(settings.content_dir)
        page = TEMPLATES.get_template("index.html").render(rasa_url=settings.rasa_url, article=article)
        return response.html(page)

    # The widget's script with its reviewed words and the default crisis numbers in it (website/widget.py);
    # built now, so a malformed content/widget.yml stops the server at start. Registered before the
    # static files: a fixed path wins over the static route's pattern.
    widget_script = widget.build_script(settings)

    @app.get("/static/haven-widget.js", error_format=ERROR_FORMAT)
    async def widget_js(_: Request) -> response.HTTPResponse:
        return response.text(widget_script, content_type="text/javascript; charset=utf-8")

    @app.on_request
    async def static_not_found(request: Request) -> Optional[response.HTTPResponse]:
        """A calm 404, logged at INFO, for what sanic's static handler would answer with a 500 (a
        folder, `/static/`) or log at ERROR with a traceback (a path that leaves the folder)."""
        if not request.path.startswith("/static/") or request.path == "/static/haven-widget.js":
            return None
        relative = unquote(request.path[len("/static/") :])
        target = (STATIC_DIR / relative.lstrip("/")).resolve()
        inside = target == STATIC_DIR.resolve() or STATIC_DIR.resolve() in target.parents
        if relative.strip("/") and ".." not in Path(relative).parts and inside and target.is_file():
            return None
        log.info("static: not found (%d characters asked for)", len(relative))
        return response.json(
            {"description": "Not Found", "status": 404, "message": "File not found"}, status=404
        )

    # Browsers ask every page's /favicon.ico; a 404 there was noise in every log (issue 13.4).
    app.static("/favicon.ico", str(STATIC_DIR / "favicon.ico"), name="favicon", content_type="image/x-icon")
    app.static("/static", str(STATIC_DIR), name="static")
    app.blueprint(staff.create_blueprint(TEMPLATES))
    app.blueprint(api.create_blueprint())
    return app
