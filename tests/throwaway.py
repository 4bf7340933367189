"""The throwaway servers (haven_devtools/throwaway.py) as test fixtures: skipped with the reason when
one cannot start here, or failed when CI requires it (HAVEN_REQUIRE_POSTGRES=1 / HAVEN_REQUIRE_REDIS=1)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NoReturn, Tuple

import pytest


def unavailable(what: str, flag: str, error: BaseException) -> NoReturn:
    """Skips with the reason printed, or fails when `flag`=1 in the environment (CI)."""
    reason = f"skipped: could not start {what}: {error}"
    if os.environ.get(flag) == "1":
        pytest.fail(f"{reason} ({flag}=1 requires it)")
    print(f"\n{reason}")
    pytest.skip(reason)


@contextmanager
def running(make: Callable[[], Any], what: str, flag: str) -> Iterator[Tuple[Any, Any]]:
    """(server, what its start() returned) for the block; stopped afterwards, and on a failed start
    (unavailable(): a skip, or a failure when `flag`=1)."""
    server = None
    try:
        server = make()
        started = server.start()
    except Exception as error:  # noqa: BLE001 - any failure means "no such server here"
        if server is not None:
            server.stop()
        unavailable(what, flag, error)
    try:
        yield server, started
    finally:
        server.stop()
