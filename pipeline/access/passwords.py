"""Passwords: Argon2id hashes (argon2-cffi) and the rules a new password must meet."""

from __future__ import annotations

import re
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD = 12
MAX_PASSWORD = 256  # Argon2 takes any length; a form field still has a limit
MAX_EMAIL = 254
MAX_NAME = 100
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

_hasher = PasswordHasher()  # Argon2id, the library's RFC 9106 low-memory profile


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords (zxcvbn's list, from leaked password sets), lower case."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher.check_needs_rehash(stored)


def password_problems(password: str, email: str = "", name: str = "") -> list[str]:
    """What is wrong with a new password (empty: it may be used)."""
    problems = []
    if len(password) < MIN_PASSWORD:
        problems.append(f"The password has {len(password)} characters: use at least {MIN_PASSWORD}.")
    if len(password) > MAX_PASSWORD:
        problems.append(f"The password has {len(password):,} characters: use at most {MAX_PASSWORD}.")
    lowered = password.lower()
    if lowered in common_passwords() or (len(set(lowered)) <= 2 and password):
        problems.append("That password is one of the most common passwords: choose one nobody would guess.")
    local = email.split("@")[0].lower()
    if len(local) >= 4 and local in lowered or email and lowered == email.lower():
        problems.append("The password contains your email address: choose one that does not.")
    if name and len(name) >= 4 and lowered == name.lower():
        problems.append("The password is your name: choose another.")
    return problems


def email_problem(email: str) -> str | None:
    email = email.strip()
    if not email:
        return "Enter an email address."
    if len(email) > MAX_EMAIL:
        return f"The email address is longer than {MAX_EMAIL} characters."
    if not EMAIL.fullmatch(email):
        return f"{email[:80]!r} is not an email address (like name@example.com)."
    return None


def name_problem(name: str) -> str | None:
    if not name.strip():
        return "Enter a name."
    if len(name) > MAX_NAME:
        return f"The name is longer than {MAX_NAME} characters."
    if any(not ch.isprintable() for ch in name):
        return "The name has characters that cannot be shown (control characters)."
    return None
