"""argon2id password hashes, sized for a gateway box.

The box has two small cores and little memory shared with video analysis: 19 MiB and two
passes (OWASP's argon2id floor) cost ~50 ms per verify there, enough to make guessing offline
slow while a login stays instant. Verifies run one at a time in a thread, so a flood of logins
costs 19 MiB once, never per request, and never blocks the event loop.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_PASSWORD_CHARS = 8

# One verify at a time (see the module docstring).
_VERIFY = asyncio.Lock()

# Verified against when the user does not exist, so a wrong name costs as long as a wrong
# password and the timing does not tell which names exist.
_DUMMY = HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return HASHER.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify(stored: str | None, password: str) -> bool:
    """True when `password` matches the hash; `stored=None` (no such user) is always False."""
    async with _VERIFY:
        return await asyncio.to_thread(_verify, stored, password)
