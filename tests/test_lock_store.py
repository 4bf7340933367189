"""haven.plugins.lock_store.AtomicRedisLockStore against a real Redis: Rasa's ticket locks, kept correct when
many processes change one conversation's lock at once (skipped without redis-server, unless
HAVEN_REQUIRE_REDIS=1)."""

from __future__ import annotations

import asyncio
import threading
from typing import List

import pytest
from rasa.core.lock_store import RedisLockStore
from rasa.utils.endpoints import EndpointConfig

from haven.plugins.lock_store import AtomicRedisLockStore
from haven_devtools.throwaway import ThrowawayRedis

pytestmark = pytest.mark.e2e


def _store(redis_server: ThrowawayRedis) -> AtomicRedisLockStore:
    """Built the way Rasa builds a custom lock store from endpoints.yml."""
    config = EndpointConfig.from_dict(
        {"type": "haven.plugins.lock_store.AtomicRedisLockStore", "url": "127.0.0.1",
         "port": str(redis_server.port),
         "password": redis_server.password, "db": "1", "key_prefix": "haven"}
    )  # fmt: skip
    return AtomicRedisLockStore(endpoint_config=config)


def test_it_is_rasas_redis_store_with_rasas_keys(redis_server) -> None:
    store = _store(redis_server)
    assert isinstance(store, RedisLockStore)
    assert store.key_prefix == "haven:lock:"
    assert store.issue_ticket("c1") == 0 and store.issue_ticket("c1") == 1
    plain = RedisLockStore(port=redis_server.port, password=redis_server.password, key_prefix="haven")
    assert plain.get_lock("c1").last_issued == 1, "servers on either class share the same locks"
    store.cleanup("c1", 0)
    assert store.get_lock("c1").now_serving == 1
    store.cleanup("c1", 1)
    assert store.get_lock("c1") is None, "the last ticket deletes the lock"


def test_tickets_drawn_at_once_by_many_processes_are_all_different(redis_server) -> None:
    threads, per_thread = 8, 25
    collected: List[int] = []
    guard = threading.Lock()
    start = threading.Barrier(threads)

    def draw() -> None:
        store = _store(redis_server)  # its own connections, as another server's would be
        start.wait()
        mine = [store.issue_ticket("busy") for _ in range(per_thread)]
        with guard:
            collected.extend(mine)

    workers = [threading.Thread(target=draw) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    tickets = sorted(collected)
    assert tickets == list(range(threads * per_thread)), "every ticket exactly once, none lost"
    assert len(_store(redis_server).get_lock("busy").tickets) == threads * per_thread


async def test_the_lock_serialises_one_conversation(redis_server) -> None:
    store, inside, overlaps = _store(redis_server), [], []

    async def handle(n: int) -> None:
        async with store.lock("serial", wait_time_in_seconds=0.01):
            if inside:
                overlaps.append(n)
            inside.append(n)
            await asyncio.sleep(0.02)
            inside.remove(n)

    await asyncio.gather(*(handle(n) for n in range(6)))
    assert overlaps == []
    assert store.get_lock("serial") is None
