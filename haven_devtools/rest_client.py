"""One client for Rasa's REST channel (`POST /webhooks/rest/webhook`), for the end-to-end tests and the
benchmarks: a visitor's message in, the bot's replies (a JSON list) out. The load generator sends the
same request through aiohttp (`loadgen.run_load`) to the same `webhook()` address."""

from __future__ import annotations

import json
import urllib.request
import uuid
from typing import Any, Dict, List, Optional

REST_PATH = "/webhooks/rest/webhook"


def webhook(base: str) -> str:
    """The REST channel's address on the Rasa server at `base` (`http://host:port`)."""
    return base.rstrip("/") + REST_PATH


def post_json(url: str, body: Any, timeout: float = 60.0) -> Any:
    """`body` as JSON to `url`; the decoded answer. An HTTP error status raises urllib's HTTPError."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def say(
    base: str,
    text: str,
    sender: Optional[str] = None,
    metadata: Optional[Dict[str, Any]] = None,
    timeout: float = 60.0,
) -> List[Dict[str, Any]]:
    """One visitor message to the Rasa server at `base`; its replies. A new conversation unless `sender`."""
    body: Dict[str, Any] = {"sender": sender or uuid.uuid4().hex, "message": text}
    if metadata:
        body["metadata"] = metadata
    return post_json(webhook(base), body, timeout=timeout)
