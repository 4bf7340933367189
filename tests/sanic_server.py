"""One real server per Sanic app for a test, instead of one per request.

`app.test_client` (sanic-testing's SanicTestClient) starts and stops a whole server, with Sanic's
start-up code rewriting and the app's listeners, for every request: about 30 ms each, most of the staff
tests' time. `served(app)` starts the app once on a free port with sanic-testing's ReusableClient and puts
it behind `app.test_client` for the test, keeping SanicTestClient's behaviour the tests rely on: real HTTP
on loopback, `(request, response)` back, redirects followed unless `allow_redirects=False`, and no
cookie carried from one request to the next (each request says its own cookies, as before).
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from typing import Any, Iterator

from sanic import Sanic
from sanic_testing.reusable import ReusableClient

from haven.ops.processes import free_port


class _OneServer(ReusableClient):
    async def _local_request(self, method: str, url: str, *args: Any, **kwargs: Any):
        allow_redirects = kwargs.pop("allow_redirects", None)
        kwargs["follow_redirects"] = True if allow_redirects is None else allow_redirects
        self._session.cookies.clear()
        return await super()._local_request(method, url, *args, **kwargs)


@contextmanager
def served(app: Sanic) -> Iterator[Sanic]:
    """`app`, served on a free port until the block ends; `app.test_client` talks to that server."""
    loop = asyncio.new_event_loop()
    client = _OneServer(app, port=free_port(), loop=loop)
    client.run()
    app._test_client = client
    try:
        yield app
    finally:
        app._test_client = None
        client.stop()
        loop.close()
        asyncio.set_event_loop(None)
