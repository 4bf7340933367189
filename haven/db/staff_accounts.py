"""Staff accounts in the application database: password hashes, sessions, lockout, the sign-in log.

Why it is built this way (issue 12.1):
- The lockout state lives on the account row, so guessing is limited per account from any mix of
  addresses (and from every website worker at once), not only per address.
- A session is a row keyed by the SHA-256 of the cookie's random value: deleting the row (sign-out,
  password change) kills every copy of the cookie, and the database alone holds no usable cookie.
- The per-address throttle counts the address's recent failures in the sign-in log, so it too is
  shared by every worker; the log never holds the password.
- The password is checked by a callable the caller passes in (website/staff_auth.py owns argon2), so
  this module is only storage and the rules over it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import delete, func, select

from haven.db.models import StaffAccount, StaffSession, StaffSignin, utcnow
from haven.db.session import retrying, session_scope

#: Wrong passwords in a row before the account is locked.
LOCK_AFTER = 5
#: The first lockout; each further one in a row (no successful sign-in between) doubles it.
LOCK_BASE = timedelta(minutes=15)
LOCK_MAX = timedelta(days=1)
#: Failed sign-ins from one address within ADDRESS_WINDOW before that address must wait.
ADDRESS_LIMIT = 10
ADDRESS_WINDOW = timedelta(minutes=15)
#: Sessions end after this long without a request, and this long after sign-in whatever happens.
SESSION_IDLE = timedelta(hours=12)
SESSION_ABSOLUTE = timedelta(days=7)
#: last_seen_at is written at most this often (a page view should not always be a write).
TOUCH_EVERY = timedelta(minutes=1)
SIGNIN_RETENTION = timedelta(days=90)

FAILURES = ("wrong", "unknown")


@dataclass(frozen=True)
class Attempt:
    """What a sign-in came to: result is one of models.SIGNIN_RESULTS; retry_after in whole seconds."""

    result: str
    retry_after: int = 0


def session_key(raw: str) -> str:
    """The stored form of a session's cookie value."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _seconds(until: datetime, now: datetime) -> int:
    return max(1, int((until - now).total_seconds() + 0.999))


def _log(session, now: datetime, username: str, result: str, client: str) -> None:
    session.add(StaffSignin(created_at=now, username=username[:64], result=result, client=client[:64]))


def password_is_set(*, url: Optional[str] = None) -> bool:
    def work() -> bool:
        with session_scope(url) as session:
            return session.scalar(select(func.count()).select_from(StaffAccount)) > 0

    return retrying(work)


def set_password_hash(username: str, password_hash: str, *, url: Optional[str] = None) -> int:
    """Create or update the one account; every session ends. Returns how many sessions ended."""

    def work() -> int:
        now = utcnow()
        with session_scope(url) as session:
            account = session.get(StaffAccount, username)
            if account is None:
                session.add(
                    StaffAccount(username=username, password_hash=password_hash, password_changed_at=now)
                )
            else:
                account.password_hash = password_hash
                account.password_changed_at = now
                account.failed_count = 0
                account.lockouts = 0
                account.locked_until = None
            # One account: a new username replaces the old one (and its sessions end too).
            session.execute(delete(StaffAccount).where(StaffAccount.username != username))
            ended = session.execute(delete(StaffSession))
            return ended.rowcount or 0

    return retrying(work)


def attempt(
    username: str,
    client: str,
    check: Callable[[Optional[str]], bool],
    *,
    now: Optional[datetime] = None,
    url: Optional[str] = None,
) -> Attempt:
    """One sign-in: throttled address or locked account first (the password is then not checked at
    all), else `check(stored_hash or None)` decides. Logs the attempt; updates the lockout state."""

    def work() -> Attempt:
        at = now or utcnow()
        with session_scope(url) as session:
            row = session.execute(
                select(func.count(), func.min(StaffSignin.created_at)).where(
                    StaffSignin.client == client[:64],
                    StaffSignin.result.in_(FAILURES),
                    StaffSignin.created_at > at - ADDRESS_WINDOW,
                )
            ).one()
            recent, oldest = row[0], row[1]
            if recent >= ADDRESS_LIMIT and oldest is not None:
                _log(session, at, username, "throttled", client)
                return Attempt("throttled", _seconds(oldest + ADDRESS_WINDOW, at))
            account = session.get(StaffAccount, username)
            if account is not None and account.locked_until is not None and account.locked_until > at:
                _log(session, at, username, "locked", client)
                return Attempt("locked", _seconds(account.locked_until, at))
            if not check(account.password_hash if account is not None else None):
                result = "unknown" if account is None else "wrong"
                _log(session, at, username, result, client)
                if account is not None:
                    account.failed_count += 1
                    if account.failed_count >= LOCK_AFTER:
                        length = min(LOCK_MAX, LOCK_BASE * (2 ** min(account.lockouts, 10)))
                        account.locked_until = at + length
                        account.lockouts += 1
                        account.failed_count = 0
                return Attempt(result)
            account.failed_count = 0
            account.lockouts = 0
            account.locked_until = None
            _log(session, at, username, "ok", client)
            return Attempt("ok")

    return retrying(work)


def start_session(
    raw: str, username: str, *, now: Optional[datetime] = None, url: Optional[str] = None
) -> None:
    def work() -> None:
        at = now or utcnow()
        with session_scope(url) as session:
            session.add(
                StaffSession(id_hash=session_key(raw), username=username, created_at=at, last_seen_at=at)
            )

    retrying(work)


def session_user(raw: str, *, now: Optional[datetime] = None, url: Optional[str] = None) -> Optional[str]:
    """The username of a live session (its idle clock restarted), else None (an expired one is deleted)."""

    def work() -> Optional[str]:
        at = now or utcnow()
        with session_scope(url) as session:
            row = session.get(StaffSession, session_key(raw))
            if row is None:
                return None
            if row.last_seen_at + SESSION_IDLE < at or row.created_at + SESSION_ABSOLUTE < at:
                session.delete(row)
                return None
            if at - row.last_seen_at > TOUCH_EVERY:
                row.last_seen_at = at
            return row.username

    return retrying(work)


def end_session(raw: str, *, url: Optional[str] = None) -> bool:
    def work() -> bool:
        with session_scope(url) as session:
            result = session.execute(delete(StaffSession).where(StaffSession.id_hash == session_key(raw)))
            return bool(result.rowcount)

    return retrying(work)
