"""Sessions, CSRF tokens and login throttling of the web workstation.

Session tokens are 256-bit random strings handed to the browser in an HttpOnly cookie; the
database stores only their SHA-256, so a leaked database holds no usable session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fracturelab.workstation import audit
from fracturelab.workstation.models import User, WebSession, utc_now

__all__ = [
    "ABSOLUTE_LIFETIME",
    "COOKIE_NAME",
    "IDLE_TIMEOUT",
    "LoginThrottle",
    "Throttled",
    "csrf_matches",
    "end_session",
    "find_session",
    "log_login",
    "start_session",
]

logger = logging.getLogger("fracturelab.workstation")

#: Name of the session cookie.
COOKIE_NAME = "fracturelab_session"
#: A session unused for this long is over.
IDLE_TIMEOUT = timedelta(hours=8)
#: No session lasts longer than this.
ABSOLUTE_LIFETIME = timedelta(hours=12)
#: ``last_seen_at`` is written at most this often (saves a write per request).
_TOUCH_EVERY = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(session: Session, user: User, client: str | None) -> tuple[str, WebSession]:
    """Create a browser session for ``user``; the caller commits.

    Returns:
        The token for the cookie (shown once, never stored) and the stored session row.

    """
    token = secrets.token_urlsafe(32)
    now = utc_now()
    row = WebSession(
        token_hash=_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        client=client,
    )
    session.add(row)
    session.execute(  # forget this user's expired sessions while we are here
        delete(WebSession).where(
            WebSession.user_id == user.id, WebSession.created_at < now - ABSOLUTE_LIFETIME
        )
    )
    return token, row


def find_session(session: Session, token: str | None) -> WebSession | None:
    """The live session of a cookie token, or ``None`` (missing, unknown, expired, inactive user).

    Refreshes ``last_seen_at`` (at most once a minute) and commits that.
    """
    if not token or len(token) > 128:
        return None
    row = session.scalars(
        select(WebSession).where(WebSession.token_hash == _digest(token))
    ).one_or_none()
    if row is None:
        return None
    now = utc_now()
    expired = now - row.last_seen_at > IDLE_TIMEOUT or now - row.created_at > ABSOLUTE_LIFETIME
    if expired or not row.user.active:
        session.delete(row)
        session.commit()
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    return row


def end_session(session: Session, token: str | None) -> None:
    """Delete the session of a cookie token (logout); the caller commits."""
    if token:
        session.execute(delete(WebSession).where(WebSession.token_hash == _digest(token)))


def csrf_matches(row: WebSession, header: str | None) -> bool:
    """Whether the ``X-CSRF-Token`` header equals the session's token (constant time)."""
    return bool(header) and hmac.compare_digest(row.csrf_token, str(header))


def log_login(
    session: Session, action: str, username: str, user: User | None, client: str | None
) -> None:
    """Log a login attempt and write it to the audit table; the caller commits.

    Args:
        session: Open session.
        action: ``login``, ``login_failed`` or ``login_throttled``.
        username: The name typed (may not exist).
        user: The matching account, if any.
        client: The client's address.

    """
    level = logging.INFO if action == "login" else logging.WARNING
    logger.log(level, "%s: user %r from %s", action, username[:64], client)
    audit.record(session, action, by=user, new={"username": username[:64]}, client=client)


@dataclass(frozen=True)
class Throttled:
    """Why and how long a login attempt is refused.

    Attributes:
        retry_after_s: Whole seconds until the next attempt may succeed (``Retry-After``).
        key: What is throttled: ``user:<name>|<address>`` or ``client:<address>``.
        audit: Whether this is the first refusal of ``key`` in this window, so it gets an
            audit row (later refusals are counted only by the throttle).

    """

    retry_after_s: int
    key: str
    audit: bool


@dataclass
class LoginThrottle:
    """Failed-login throttling per (user name, client address) and per client address.

    A user name tried from one address gets :attr:`free_failures` failures; each further
    failure makes the next attempt wait twice as long, from :attr:`base_delay_s` up to
    :attr:`max_delay_s` (exponential back-off), so online guessing is slow while the same
    account logs in normally from any other address. One address gets at most
    :attr:`max_per_client` failures in :attr:`window_s`, whichever user names it tries.
    Failures older than the window are forgotten; the counters keep at most
    :attr:`max_tracked` keys (the least recently failed go first), so a flood of names or
    addresses cannot grow them without bound. Counters live in the server process.

    Args:
        free_failures: Failures of one user name from one address before delays begin.
        base_delay_s: First delay, seconds.
        max_delay_s: Longest delay, seconds.
        max_per_client: Failures from one client address allowed in the window.
        window_s: How long failures count, seconds.
        max_tracked: Most keys kept in each counter table.
        clock: Monotonic time in seconds (tests pass a fake clock).

    """

    free_failures: int = 3
    base_delay_s: float = 2.0
    max_delay_s: float = 300.0
    max_per_client: int = 20
    window_s: float = 900.0
    max_tracked: int = 10_000
    clock: Callable[[], float] = time.monotonic

    def __post_init__(self) -> None:
        for name in ("base_delay_s", "max_delay_s", "max_per_client", "window_s", "max_tracked"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name}={value!r} is not valid; give a number > 0")
        if self.free_failures < 0 or self.max_delay_s < self.base_delay_s:
            raise ValueError("give free_failures >= 0 and max_delay_s >= base_delay_s")
        self._pairs: OrderedDict[str, tuple[int, float]] = OrderedDict()  # count, last failure
        self._clients: OrderedDict[str, deque[float]] = OrderedDict()
        self._audited: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, username: str, client: str | None) -> Throttled | None:
        """``None`` when this user name and client may try now, else how long to wait."""
        now = self.clock()
        pair, address = _pair_key(username, client), f"client:{client}"
        with self._lock:
            self._forget_old(now)
            waits = []
            count, last = self._pairs.get(pair, (0, now))
            if count >= self.free_failures:
                waits.append((last + self._delay_s(count) - now, pair))
            times = self._clients.get(address, deque())
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) >= self.max_per_client:
                waits.append((times[0] + self.window_s - now, address))
            wait, key = max(waits, default=(0.0, ""))
            if wait <= 0:
                return None
            audit = key not in self._audited
            if audit:
                self._audited[key] = now
                self._cap(self._audited)
        return Throttled(math.ceil(wait), key, audit)

    def failed(self, username: str, client: str | None) -> None:
        """Count a failed attempt."""
        now = self.clock()
        pair, address = _pair_key(username, client), f"client:{client}"
        with self._lock:
            self._forget_old(now)
            count, _ = self._pairs.pop(pair, (0, now))
            self._pairs[pair] = (count + 1, now)
            times = self._clients.pop(address, deque())
            times.append(now)
            while len(times) > self.max_per_client or times[0] <= now - self.window_s:
                times.popleft()
            self._clients[address] = times
            self._cap(self._pairs)
            self._cap(self._clients)

    def succeeded(self, username: str, client: str | None) -> None:
        """Forget the failures of this user name from this address after a successful login."""
        with self._lock:
            self._pairs.pop(_pair_key(username, client), None)

    def tracked(self) -> int:
        """Keys held in the counter tables (bounded by ``3 * max_tracked``)."""
        with self._lock:
            return len(self._pairs) + len(self._clients) + len(self._audited)

    def _delay_s(self, count: int) -> float:
        exponent = min(count - self.free_failures, 60)
        return float(min(self.base_delay_s * 2.0**exponent, self.max_delay_s))

    def _forget_old(self, now: float) -> None:
        """Drop keys whose last failure (or audit row) left the window; oldest are first."""
        horizon = now - self.window_s
        while self._pairs and next(iter(self._pairs.values()))[1] <= horizon:
            self._pairs.popitem(last=False)
        while self._clients and next(iter(self._clients.values()))[-1] <= horizon:
            self._clients.popitem(last=False)
        while self._audited and next(iter(self._audited.values())) <= horizon:
            self._audited.popitem(last=False)

    def _cap(self, table: OrderedDict[str, Any]) -> None:
        while len(table) > self.max_tracked:
            table.popitem(last=False)


def _pair_key(username: str, client: str | None) -> str:
    return f"user:{username.lower()}|{client}"
