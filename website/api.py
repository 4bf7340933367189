"""The widget's small JSON API on the website server: crisis resources by region, and forgetting a
conversation on the Rasa server. Neither takes nor returns personal data; neither is cached."""

from __future__ import annotations

import logging
import re

import aiohttp
from sanic import Blueprint, response
from sanic.request import Request

from haven.services import safety
from website import ERROR_FORMAT

logger = logging.getLogger(__name__)

# The widget's sender ids: crypto.randomUUID() (36 chars) or 32 hex digits.
SENDER_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
RASA_TIMEOUT_SECONDS = 5
NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, code: str) -> response.HTTPResponse:
    return response.json({"error": code}, status=status, headers=NO_STORE)


def create_blueprint() -> Blueprint:
    bp = Blueprint("haven_api", url_prefix="/api")

    @bp.get("/crisis-resources", error_format=ERROR_FORMAT)
    async def crisis_resources(request: Request) -> response.HTTPResponse:
        settings = request.app.ctx.settings
        data = safety.load()
        code = data.visitor_region(request.args.get("region"), request.args.get("locale"), settings.region)
        return response.json(data.region_resources(code).as_json(), headers=NO_STORE)

    @bp.post("/conversations/<sender_id:str>/forget", error_format=ERROR_FORMAT)
    async def forget(request: Request, sender_id: str) -> response.HTTPResponse:
        if not SENDER_ID.match(sender_id):
            return _error(400, "invalid_sender_id")
        settings = request.app.ctx.settings
        if not settings.rasa_api_token:
            return _error(503, "rasa_api_not_configured")
        url = f"{settings.rasa_internal_url}/conversations/{sender_id}/tracker/events"
        try:
            timeout = aiohttp.ClientTimeout(total=RASA_TIMEOUT_SECONDS)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                # PUT replaces the tracker's events: an empty list leaves nothing of the conversation.
                async with session.put(url, params={"token": settings.rasa_api_token}, json=[]) as answer:
                    status = answer.status
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            # Never the URL (it carries the token) and never the sender id in the log.
            logger.warning("forgetting a conversation failed: %s", type(error).__name__)
            return _error(503, "rasa_unreachable")
        if not 200 <= status < 300:
            logger.warning("forgetting a conversation failed: Rasa answered %s", status)
            return _error(503, "rasa_refused")
        return response.empty(status=204, headers=NO_STORE)

    return bp
