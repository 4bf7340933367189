"""The rasa_sdk action server, answering a failed action without the visitor's data.

rasa_sdk answers an action that raised with HTTP 500 and the whole request in the body (the
conversation, the visitor's name and contact), and Rasa writes that body into its error log. Here the
500 carries the exception's type only, and the log says which action code failed, where, and why in
type terms — never the request or the exception's text, which can quote what the visitor typed.
Everything else is rasa_sdk's own server (`python -m haven.action_server` takes rasa_sdk's options).
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import rasa_sdk.endpoint as endpoint
from sanic import response

logger = logging.getLogger(__name__)

_stock_create_app = endpoint.create_app


def where(exception: BaseException) -> str:
    frames = traceback.extract_tb(exception.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


def create_app(*args: Any, **kwargs: Any):
    app = _stock_create_app(*args, **kwargs)

    @app.exception(Exception)
    async def exception_handler(request, exception: Exception):
        logger.error("an action failed: %s at %s", type(exception).__name__, where(exception))
        return response.json({"error": type(exception).__name__}, status=500)

    return app


endpoint.create_app = create_app

if __name__ == "__main__":
    import rasa_sdk.__main__

    rasa_sdk.__main__.main()
