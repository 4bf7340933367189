"""Sanic 21.12's websocket receive loop made to work on Python 3.11 (socket.io's websocket transport).

Targets sanic 21.12.x (the version Rasa 3.6 pins) on Python 3.11+. `WebsocketImplProtocol.recv()`
and `recv_burst()` pass a bare coroutine (`self.assembler.get(...)`) to `asyncio.wait()`. Python 3.11
refuses bare coroutines there (TypeError), so the first read of every websocket fails: the socket
is torn down right after the `101 Switching Protocols`, Sanic writes an HTTP error response onto
the upgraded connection ("Invalid frame header" in Chromium), and a socket.io client that upgraded
from long-polling is left half-upgraded and polls hundreds of times a second. Sanic fixed this
upstream (22.x wraps the coroutine in `asyncio.ensure_future`); Rasa 3.6 cannot take that Sanic.

The fix here is the same as upstream's and nothing more: the two methods are replaced by copies
whose only change is that the assembler's coroutine is wrapped in a task before `asyncio.wait()`.
Everything else (the cancel future, the receive lock, the burst limit) is Sanic's own code.

It is installed when haven.plugins.channels is imported (Rasa imports it to open the channels of
credentials.yml), so `rasa run` and the launcher both get it. On any other Sanic version, or
a Sanic whose websocket class is not as expected, nothing is changed and a warning says so.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Optional, Sequence

logger = logging.getLogger(__name__)

TARGET_SANIC = "21.12."

_installed = False
#: Sanic's own methods as they were before install() (kept for the tests and for comparison).
STOCK: dict = {}


def install() -> bool:
    """Replaces WebsocketImplProtocol.recv/recv_burst with the fixed copies. Idempotent; True when
    the fix is in place."""
    global _installed
    if _installed:
        return True
    try:
        import sanic
        from sanic.exceptions import WebsocketClosed
        from sanic.server.websockets.impl import CLOSED, WebsocketImplProtocol
    except ImportError as error:
        logger.warning("Sanic's websocket receive left as it is: %s", error)
        return False
    version = getattr(sanic, "__version__", "")
    if not version.startswith(TARGET_SANIC):
        logger.warning(
            "Sanic's websocket receive left as it is: the fix targets sanic %sx, this is %s",
            TARGET_SANIC,
            version,
        )
        return False
    if not all(hasattr(WebsocketImplProtocol, name) for name in ("recv", "recv_burst")):
        logger.warning("Sanic's websocket receive left as it is: WebsocketImplProtocol is not as expected")
        return False

    async def recv(self, timeout: Optional[float] = None):
        # sanic 21.12.2 WebsocketImplProtocol.recv, with the assembler's coroutine wrapped in a task.
        if self.recv_lock.locked():
            from sanic.exceptions import ServerError

            raise ServerError("cannot call recv while another task is already waiting for the next message")
        await self.recv_lock.acquire()
        if self.connection.state is CLOSED:
            self.recv_lock.release()
            raise WebsocketClosed("Cannot receive from websocket interface after it is closed.")
        try:
            self.recv_cancel = asyncio.Future()
            getting = asyncio.ensure_future(self.assembler.get(timeout))
            done, pending = await asyncio.wait(
                (self.recv_cancel, getting), return_when=asyncio.FIRST_COMPLETED
            )
            done_task = next(iter(done))
            if done_task is self.recv_cancel:
                for p in pending:
                    p.cancel()
                raise asyncio.CancelledError()
            self.recv_cancel.cancel()
            return done_task.result()
        finally:
            self.recv_cancel = None
            self.recv_lock.release()

    async def recv_burst(self, max_recv: int = 256) -> Sequence:
        # sanic 21.12.2 WebsocketImplProtocol.recv_burst, with the same one change.
        if self.recv_lock.locked():
            from sanic.exceptions import ServerError

            raise ServerError(
                "cannot call recv_burst while another task is already waiting for the next message"
            )
        await self.recv_lock.acquire()
        if self.connection.state is CLOSED:
            self.recv_lock.release()
            raise WebsocketClosed("Cannot receive from websocket interface after it is closed.")
        messages = []
        try:
            self.can_pause = False
            self.recv_cancel = asyncio.Future()
            while True:
                getting = asyncio.ensure_future(self.assembler.get(timeout=0))
                done, pending = await asyncio.wait(
                    (self.recv_cancel, getting), return_when=asyncio.FIRST_COMPLETED
                )
                done_task = next(iter(done))
                if done_task is self.recv_cancel:
                    for p in pending:
                        p.cancel()
                    raise asyncio.CancelledError()
                m = done_task.result()
                if m is None:
                    break
                messages.append(m)
                if len(messages) >= max_recv:
                    break
                await asyncio.sleep(0)
            self.recv_cancel.cancel()
        finally:
            self.recv_cancel = None
            self.can_pause = True
            self.recv_lock.release()
        return messages

    recv.__doc__ = WebsocketImplProtocol.recv.__doc__
    recv_burst.__doc__ = WebsocketImplProtocol.recv_burst.__doc__
    STOCK.update(recv=WebsocketImplProtocol.recv, recv_burst=WebsocketImplProtocol.recv_burst)
    WebsocketImplProtocol.recv = recv
    WebsocketImplProtocol.recv_burst = recv_burst
    _installed = True
    return True
