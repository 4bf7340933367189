"""The rasa_sdk action server, answering a failed action without the visitor's data.

rasa_sdk answers an action that raised with HTTP 500 and the whole request in the body (the
conversation, the visitor's name and contact), and Rasa writes that body into its error log. Here the
500 carries the exception's type only, and the log says which action code failed, where, and why in
type terms — never the request or the exception's text, which can quote what the visitor typed.

Only the Rasa server may call it (issue 12.2): every request but `GET /health` must carry the shared
secret HAVEN_ACTION_TOKEN as `Authorization: Bearer <secret>` (endpoints.yml sends it), or it gets
401 before any action runs, so nothing is stored. The secret comes from the environment only (the
launcher makes a random one per launch and gives it to both servers); without one the server
refuses to start, and an app made without one refuses every request.
Everything else is rasa_sdk's own server (`python -m haven.plugins.action_server` takes rasa_sdk's options).
"""

from __future__ import annotations

import hmac
import logging
import sys
import traceback
from typing import Any, Optional

from haven.plugins import quiet

quiet.quiet_deprecation_warnings()  # before rasa_sdk's imports print them (only as the launcher asks)

import rasa_sdk.endpoint as endpoint  # noqa: E402
from sanic import response  # noqa: E402

logger = logging.getLogger(__name__)

_stock_create_app = endpoint.create_app


def where(exception: BaseException) -> str:
    frames = traceback.extract_tb(exception.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


#: The only route open without the secret: the launcher's and load balancers' health check.
OPEN_PATHS = frozenset({"/health"})


def _configured_token() -> Optional[str]:
    from haven import settings

    return settings.load().action_token


def authorized(header: Optional[str], token: Optional[str]) -> bool:
    """True when `header` is `Bearer <token>` (compared in constant time); never without a token."""
    if not token or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[len("Bearer ") :].encode(), token.encode())


def create_app(*args: Any, token: Optional[str] = None, **kwargs: Any):
    """rasa_sdk's app, answering only requests with the shared secret (`token`, default
    HAVEN_ACTION_TOKEN), and failed actions without the visitor's data."""
    # rasa_sdk logs one INFO line per registered action at every start (18 lines); its warnings and
    # errors still show.
    logging.getLogger("rasa_sdk.executor").setLevel(logging.WARNING)
    app = _stock_create_app(*args, **kwargs)
    secret = token if token is not None else _configured_token()
    if not secret:
        logger.error("HAVEN_ACTION_TOKEN is not set: every action request will be refused")

    @app.middleware("request")
    async def require_secret(request):
        if request.path in OPEN_PATHS:
            return None
        try:
            header = request.headers.get("authorization")
        except UnicodeError:
            header = None
        if not authorized(header, secret):
            logger.warning("refused an action request without the shared secret")
            return response.json({"error": "unauthorized"}, status=401)
        return None

    @app.before_server_start
    async def warm_the_faq(_app, _loop) -> None:
        # The FAQ's matcher (the sentence encoder and every example question encoded, a few seconds)
        # is built before the first request, not on a visitor's first practice question.
        from haven.services import faq

        faq.store().current().warm()

    @app.exception(Exception)
    async def exception_handler(request, exception: Exception):
        logger.error("an action failed: %s at %s", type(exception).__name__, where(exception))
        return response.json({"error": type(exception).__name__}, status=500)

    return app


endpoint.create_app = create_app

if __name__ == "__main__":
    import rasa_sdk.__main__

    if not _configured_token():
        print(
            "The action server needs HAVEN_ACTION_TOKEN, the secret the Rasa server sends "
            "(the launcher sets a random one; deploy/README.md for separate machines).",
            file=sys.stderr,
        )
        sys.exit(2)

    rasa_sdk.__main__.main()
