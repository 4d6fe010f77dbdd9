"""Sessions, CSRF tokens and login throttling of the web workstation.

Session tokens are 256-bit random strings handed to the browser in an HttpOnly cookie; the
database stores only their SHA-256, so a leaked database holds no usable session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fracturelab.workstation.models import AuditEvent, User, WebSession, utc_now

__all__ = [
    "ABSOLUTE_LIFETIME",
    "COOKIE_NAME",
    "IDLE_TIMEOUT",
    "LoginThrottle",
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
    session.add(
        AuditEvent(
            user_id=None if user is None else user.id,
            action=action,
            new={"username": username[:64]},
            client=client,
        )
    )


@dataclass
class LoginThrottle:
    """Failed-login counters in a sliding window, per user name and per client address.

    Counters live in the server process (one process serves the workstation by default).

    Args:
        max_per_user: Failures of one user name allowed in the window.
        max_per_client: Failures from one client address allowed in the window.
        window_s: Length of the window in seconds.

    """

    max_per_user: int = 5
    max_per_client: int = 20
    window_s: float = 900.0

    def __post_init__(self) -> None:
        for name in ("max_per_user", "max_per_client", "window_s"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name}={value!r} is not valid; give a number > 0")
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after_s(self, username: str, client: str | None) -> int:
        """Seconds until this user name and client may try again; 0 when they may now."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key, limit in self._keys(username, client):
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait = max(wait, times[0] + self.window_s - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, username: str, client: str | None) -> None:
        """Count a failed attempt."""
        now = time.monotonic()
        with self._lock:
            for key, _ in self._keys(username, client):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, username: str) -> None:
        """Forget the failures of a user name after a successful login."""
        with self._lock:
            self._failures.pop(f"user:{username.lower()}", None)

    def _keys(self, username: str, client: str | None) -> list[tuple[str, int]]:
        return [
            (f"user:{username.lower()}", self.max_per_user),
            (f"client:{client}", self.max_per_client),
        ]

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times
