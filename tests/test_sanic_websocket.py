"""haven/plugins/sanic_websocket.py: Sanic 21.12's websocket receive works on Python 3.11 (the stock one
raises
TypeError at the first read: asyncio.wait() refuses bare coroutines). The outside clients' tests
(tests/test_outside_clients.py) show it end to end; this shows the one change in-process."""

from __future__ import annotations

import asyncio

import pytest
from sanic.server.websockets.impl import WebsocketImplProtocol
from websockets.frames import Frame, Opcode
from websockets.server import ServerConnection

import haven.plugins.channels  # noqa: F401 - installs the fix, as Rasa loading credentials.yml does
from haven.plugins import sanic_websocket


def open_protocol() -> WebsocketImplProtocol:
    connection = ServerConnection()
    connection.state = 1  # OPEN
    return WebsocketImplProtocol(connection)


async def receive(method) -> object:
    """A socket.io client's first frame, put by the connection while `method` waits for it."""
    protocol = open_protocol()
    putting = asyncio.ensure_future(protocol.assembler.put(Frame(Opcode.TEXT, b"2probe")))
    try:
        return await asyncio.wait_for(method(protocol), 5)
    finally:
        putting.cancel()


def test_the_fix_is_installed_once_and_reports_it() -> None:
    assert sanic_websocket.install() and sanic_websocket.install()
    assert WebsocketImplProtocol.recv.__module__ == "haven.plugins.sanic_websocket"
    assert WebsocketImplProtocol.recv_burst.__module__ == "haven.plugins.sanic_websocket"


def test_a_message_is_received() -> None:
    assert asyncio.run(receive(lambda p: p.recv(2))) == "2probe"


@pytest.mark.filterwarnings("ignore:coroutine 'WebsocketFrameAssembler.get' was never awaited")
def test_the_stock_receive_fails_on_this_python() -> None:
    """Why the fix exists: Sanic's own method, called the same way, fails on Python 3.11+."""
    with pytest.raises(TypeError, match="coroutines"):
        asyncio.run(receive(lambda p: sanic_websocket.STOCK["recv"](p, 2)))
