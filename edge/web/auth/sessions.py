"""Console sessions: random ids in a signed cookie, state in memory.

The cookie carries `<id>.<hmac>`; the HMAC key is drawn at start, so a restart (or a forged
cookie) means logging in again. A session ends after `idle_s` unused, `max_s` after login
whatever happens, at logout, and when its user is removed or demoted. Each has its own CSRF
token that the page echoes in `X-CSRF-Token` on every state-changing request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.config.web import Role

COOKIE = "edge_session"
# Sessions held at most: the oldest is dropped first (a login flood cannot exhaust memory).
MAX_SESSIONS = 1000


@dataclass(slots=True)
class Session:
    id: str
    user: str
    role: Role
    created: float
    last_seen: float
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))


class Sessions:
    def __init__(
        self, idle_s: float, max_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.idle_s = idle_s
        self.max_s = max_s
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._by_id: dict[str, Session] = {}

    def _sign(self, sid: str) -> str:
        return hmac.new(self._key, sid.encode(), hashlib.sha256).hexdigest()

    def create(self, user: str, role: Role) -> tuple[Session, str]:
        """A new session and its cookie value."""
        now = self.clock()
        s = Session(secrets.token_urlsafe(32), user, role, now, now)
        self._by_id[s.id] = s
        while len(self._by_id) > MAX_SESSIONS:
            self._by_id.pop(next(iter(self._by_id)))
        return s, f"{s.id}.{self._sign(s.id)}"

    def lookup(self, cookie: str | None) -> Session | None:
        """The live session the cookie names (touching it), or None."""
        if not cookie:
            return None
        sid, _, sig = cookie.partition(".")
        if not sid or not hmac.compare_digest(sig, self._sign(sid)):
            return None
        s = self._by_id.get(sid)
        if s is None:
            return None
        now = self.clock()
        if now - s.last_seen > self.idle_s or now - s.created > self.max_s:
            del self._by_id[sid]
            return None
        s.last_seen = now
        return s

    def end(self, sid: str) -> None:
        self._by_id.pop(sid, None)

    def end_user(self, user: str) -> None:
        for sid in [k for k, s in self._by_id.items() if s.user == user]:
            del self._by_id[sid]

    def __len__(self) -> int:
        return len(self._by_id)
