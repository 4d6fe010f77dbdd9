"""The outermost layer of the workstation app: headers, body limits and errors for every answer.

One pure ASGI middleware, in front of everything else (trusted hosts, routing, FastAPI's
exception handlers), so that its rules hold for every response, errors included:

- security headers (CSP, ``nosniff``, ``DENY``, referrer policy, HSTS with secure cookies) and
  ``Cache-Control: no-store`` on the API;
- a write whose ``Origin`` is not the server's own origin is refused (403);
- request bodies larger than :data:`MAX_BODY_BYTES` are refused (413) before any route or
  login check reads them, whether announced by ``Content-Length`` or streamed in chunks;
- JSON bodies holding ``NaN``/``Infinity`` are refused (422): JSON has no such numbers;
- an unexpected exception becomes a JSON ``500`` carrying the same headers, and is logged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from email.message import Message

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

__all__ = ["CSP", "HSTS", "MAX_BODY_BYTES", "WRITE_METHODS", "GuardMiddleware", "is_json_body"]

logger = logging.getLogger("fracturelab.workstation")

#: Content Security Policy: only this server's scripts; NiiVue needs WebGL, blobs and workers.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' blob: data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
#: ``Strict-Transport-Security`` sent when the server runs behind HTTPS (``--secure-cookies``).
HSTS = "max-age=31536000"
#: Largest request body accepted, bytes (answers and admin requests are a few kB at most).
MAX_BODY_BYTES = 1024 * 1024
_SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)
#: Methods that change something: they need the CSRF header and a same-origin ``Origin``.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _NonFiniteNumberError(ValueError):
    pass


def _refuse_constant(name: str) -> float:
    raise _NonFiniteNumberError(name)


def is_json_body(content_type: str | None) -> bool:
    """Whether FastAPI parses a body of this ``Content-Type`` as JSON (none counts as JSON)."""
    if not content_type:
        return True
    message = Message()
    message["content-type"] = content_type
    main, sub = message.get_content_maintype(), message.get_content_subtype()
    return main == "application" and (sub == "json" or sub.endswith("+json"))


class GuardMiddleware:
    """Security headers, origin check, body limit, finite JSON and JSON 500s (see module).

    Args:
        app: The application behind it.
        hsts: Send ``Strict-Transport-Security`` (the server is reached over HTTPS).
        max_body_bytes: Largest request body accepted.

    """

    def __init__(
        self, app: ASGIApp, *, hsts: bool = False, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        headers = list(_SECURITY_HEADERS)
        if hsts:
            headers.append(("Strict-Transport-Security", HSTS))
        self.headers = tuple(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection scope."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        api = str(scope.get("path", "")).startswith("/api/")

        async def send_with_headers(message: AsgiMessage) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers.setdefault(name, value)
                if api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            refusal, replay = await self._check(scope, receive)
            if refusal is not None:
                await refusal(scope, receive, send_with_headers)
                return
            await self.app(scope, replay, send_with_headers)
        except Exception:
            logger.exception("%s %s failed", scope.get("method"), scope.get("path"))
            if started:
                raise
            error = JSONResponse(
                {"detail": "internal server error; the server log has the details"},
                status_code=500,
            )
            await error(scope, receive, send_with_headers)

    async def _check(self, scope: Scope, receive: Receive) -> tuple[JSONResponse | None, Receive]:
        """A refusal for the request, or ``None`` and a ``receive`` replaying its body."""
        headers = Headers(scope=scope)
        method = str(scope.get("method", "GET")).upper()
        origin = headers.get("origin")
        if method in WRITE_METHODS and origin and origin != _own_origin(scope, headers):
            return _refuse(403, f"cross-site request from {origin[:200]} refused"), receive
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            return self._too_large(), receive
        if length in (None, "0") and "transfer-encoding" not in headers:
            return None, receive
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None, _replay([message], receive)
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > self.max_body_bytes:
                return self._too_large(), receive
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if body and is_json_body(headers.get("content-type")):
            try:
                json.loads(body, parse_constant=_refuse_constant)
            except _NonFiniteNumberError as error:
                return _refuse(
                    422,
                    f"the JSON body holds {error}; JSON numbers must be finite, give a number "
                    "or null",
                ), receive
            except ValueError:
                pass  # not JSON at all: the route's validation says so
        return None, _replay([{"type": "http.request", "body": body, "more_body": False}], receive)

    def _too_large(self) -> JSONResponse:
        return _refuse(
            413,
            f"request body larger than {self.max_body_bytes} bytes; send less (one answer or "
            "one change at a time)",
        )


def _refuse(status: int, detail: str) -> JSONResponse:
    headers = {"Connection": "close"} if status == 413 else None  # the body was not read
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _replay(messages: Iterable[AsgiMessage], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> AsgiMessage:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _own_origin(scope: Scope, headers: Headers) -> str:
    return f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
