"""The therapist's password: strength rules, argon2id hashing, and `make staff-password`.

Why it is built this way (issue 12.1):
- argon2id through argon2-cffi's PasswordHasher (its defaults follow RFC 9106's low-memory
  profile), so a stolen database does not give the password away cheaply.
- The password is set only interactively (`python -m website.staff_auth`, getpass twice): never
  from the environment or the command line, where `ps`, shell history and process dumps keep it.
- Setting it ends every session of the account (haven/db/staff_accounts.py), so a password change
  is also the way to sign out a lost laptop.
- Sign-in checks a dummy hash when the username is unknown, so the answer takes as long either way.
"""

from __future__ import annotations

import getpass
import sys
from typing import Callable, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from haven import settings as settings_module
from haven.db import migrate
from haven.db import staff_accounts as accounts

DEFAULT_USERNAME = "therapist"
MIN_LENGTH = 12
MAX_LENGTH = 1024

#: The commonest passwords and their obvious stretches to 12+ characters (a small, offline list).
COMMON = frozenset(
    """
    123456789012 1234567890123 12345678901234 123456123456 111111111111 000000000000 qwertyuiop12
    qwertyuiop123 qwerty123456 1q2w3e4r5t6y 1qaz2wsx3edc password1234 password12345 password123!
    password2024 password2025 password2026 passw0rd1234 iloveyou1234 iloveyou123! welcome12345
    welcome123!! letmein12345 admin1234567 administrator abc123abc123 trustno1trustno1 sunshine1234
    princess1234 football1234 baseball1234 monkey123456 dragon123456 changeme1234 therapist123
    therapist1234 therapy12345 haven1234567 haven12345678 qwertyqwerty asdfghjkl123 zxcvbnm12345
    """.split()
)


def strength_problem(password: str, username: str = DEFAULT_USERNAME) -> Optional[str]:
    """Why this password is refused, in one sentence for a person; None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters (a few unrelated words work well)."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 2:
        return "Mix at least two kinds of character: lower case, upper case, digits, spaces or symbols."
    folded = password.lower()
    if folded in COMMON or len(set(folded)) <= 2 or username.lower() in folded:
        return "That password is too common or too easy to guess; choose another."
    return None


_hasher = PasswordHasher()  # argon2id
_DUMMY = _hasher.hash("a password nobody has, only for equal timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored_hash: Optional[str], password: str) -> bool:
    """True when `password` matches; a missing account still costs one argon2 check."""
    try:
        return _hasher.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def set_password(
    username: str,
    password: str,
    *,
    url: Optional[str] = None,
    hasher: Callable[[str], str] = hash_password,
) -> int:
    """Refuses a weak password (ValueError with the reason); returns how many sessions ended.
    `hasher`: tests pass one that stores a low-cost argon2id hash, computed once per password (the
    production cost, 0.1 s a hash and a check, is by design)."""
    problem = strength_problem(password, username)
    if problem:
        raise ValueError(problem)
    return accounts.set_password_hash(username, hasher(password), url=url)


def main(argv: Optional[list] = None) -> int:
    """`make staff-password`: asks for the username (default therapist) and the password twice."""
    if argv if argv is not None else sys.argv[1:]:
        print(
            "This command takes no arguments: it asks for the password (never pass it on the command line)."
        )
        return 2
    settings = settings_module.load()
    migrate.upgrade(settings.database_url)
    try:
        username = input(f"Username [{DEFAULT_USERNAME}]: ").strip() or DEFAULT_USERNAME
        while True:
            password = getpass.getpass("New staff password: ")
            problem = strength_problem(password, username)
            if problem:
                print(problem)
                continue
            if getpass.getpass("The same password again: ") != password:
                print("The two entries differ; please try again.")
                continue
            break
    except (EOFError, KeyboardInterrupt):
        print("\nNo password was set.")
        return 1
    if len(username) > 64 or not username.isprintable():
        print("Use a username of at most 64 printable characters.")
        return 2
    ended = set_password(username, password, url=settings.database_url)
    print(f"The password for {username!r} is set; {ended} signed-in browser(s) were signed out.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
