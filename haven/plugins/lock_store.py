"""Rasa's Redis lock store, with each change of a conversation's lock made atomic.

Rasa 3.6's `RedisLockStore` reads a conversation's lock from Redis, changes it in Python and writes
it back (GET, then SET). Two Rasa servers, or two Sanic workers of one server, that receive
messages of the same conversation at the same moment can both read the same lock, both draw the
same ticket and handle both messages at once; the tracker store then keeps the events of only one
of them (RasaHQ/rasa#11256; the fix went into Rasa Pro's ConcurrentRedisLockStore, not into the
open-source store). tests/test_scale_out.py shows the loss with Rasa's store and none with this one.

`AtomicRedisLockStore` is the same store (same settings, keys and values, so servers using either
share locks) whose read-change-write steps each run in a Redis transaction: WATCH the key, read,
change, MULTI/EXEC, and start again when another process changed the lock in between. It is loaded
through Rasa's custom lock store hook (`lock_store: type: haven.plugins.lock_store.AtomicRedisLockStore` in
deploy/endpoints.scale-out.yml) and counts as a shared lock store for SANIC_WORKERS > 1.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional, Text, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

#: What a change does with the lock it was given: write it back, delete it, or leave Redis alone.
SAVE, DELETE, KEEP = "save", "delete", "keep"
Change = Callable[[Optional[TicketLock]], Tuple[str, Optional[TicketLock], Any]]


class AtomicRedisLockStore(RedisLockStore):
    """Redis ticket locks that stay correct when several processes change one lock at once."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        """Built by Rasa from the `lock_store` endpoint (url, port, db, password, key_prefix, …),
        or from RedisLockStore's own keyword arguments."""
        if endpoint_config is not None:
            kwargs = {"host": endpoint_config.url or "localhost", **endpoint_config.kwargs, **kwargs}
        super().__init__(**kwargs)

    def _change(self, conversation_id: Text, change: Change) -> Any:
        """Applies `change` to the stored lock atomically and returns what it returned."""
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    stored = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(stored)) if stored else None
                    action, lock, result = change(lock)
                    if action == KEEP:
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    if action == DELETE or lock is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, lock.dumps())
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another process changed this lock meanwhile: read it again

    def issue_ticket(self, conversation_id: Text, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: Optional[TicketLock]) -> Tuple[str, Optional[TicketLock], Any]:
            lock = lock or self.create_lock(conversation_id)
            return SAVE, lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._change(conversation_id, issue)
        except Exception as error:  # as Rasa's own issue_ticket: any failure is a LockError
            raise LockError(f"Error while acquiring lock. Error:\n{error}") from error

    def update_lock(self, conversation_id: Text) -> None:
        def drop_expired(lock: Optional[TicketLock]) -> Tuple[str, Optional[TicketLock], Any]:
            if lock is None:
                return KEEP, None, None
            lock.remove_expired_tickets()
            return SAVE, lock, None

        self._change(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: Text, ticket_number: int) -> None:
        def finish(lock: Optional[TicketLock]) -> Tuple[str, Optional[TicketLock], Any]:
            if lock is None:
                return KEEP, None, None
            lock.remove_ticket_for(ticket_number)
            return SAVE, lock, None

        self._change(conversation_id, finish)

    def cleanup(self, conversation_id: Text, ticket_number: int) -> None:
        """Finishes the ticket and deletes the lock if no one else waits, in one step (Rasa's own
        checks and deletes separately, and can delete a ticket issued in between)."""

        def finish_and_tidy(lock: Optional[TicketLock]) -> Tuple[str, Optional[TicketLock], Any]:
            if lock is None:
                return KEEP, None, None
            lock.remove_ticket_for(ticket_number)
            return (SAVE if lock.is_someone_waiting() else DELETE), lock, None

        self._change(conversation_id, finish_and_tidy)
