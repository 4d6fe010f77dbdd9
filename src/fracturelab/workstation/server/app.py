"""The workstation's FastAPI application."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.middleware.trustedhost import TrustedHostMiddleware

from fracturelab.workstation.db import Database
from fracturelab.workstation.server import accounts_api, admin_api, auth_api, pages, reader_api
from fracturelab.workstation.server.deps import Login
from fracturelab.workstation.server.images import CaseImages
from fracturelab.workstation.server.middleware import CSP, MAX_BODY_BYTES, GuardMiddleware
from fracturelab.workstation.server.security import LoginThrottle

__all__ = ["CSP", "create_app"]


def create_app(
    database: Database,
    *,
    cache_dir: Path | None = None,
    secure_cookies: bool = False,
    throttle: LoginThrottle | None = None,
    allowed_hosts: Sequence[str] | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> FastAPI:
    """Build the workstation application for one database.

    Args:
        database: The (checked) workstation database; the app does not dispose it.
        cache_dir: Folder for images converted to NIfTI for the browser; default a temporary
            folder removed at shutdown.
        secure_cookies: Mark the session cookie ``Secure`` even over plain HTTP (use behind an
            HTTPS proxy) and send ``Strict-Transport-Security``; the cookie is always
            ``Secure`` on HTTPS requests.
        throttle: Login throttling (default: see :class:`~.security.LoginThrottle`).
        allowed_hosts: ``Host`` header values answered (e.g. ``["localhost", "127.0.0.1"]``,
            ``"*.example.org"``); others get ``400``. ``None`` answers any host (tests);
            ``fracturelab workstation serve`` always passes a list.
        max_body_bytes: Largest request body accepted; larger ones get ``413`` before routing.

    Returns:
        The application; serve it with uvicorn (see :func:`~.run.serve`).

    """
    own_cache = cache_dir is None
    folder = Path(tempfile.mkdtemp(prefix="fracturelab-ws-")) if cache_dir is None else cache_dir

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if own_cache:
            shutil.rmtree(folder, ignore_errors=True)

    app = FastAPI(
        title="fracturelab workstation",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind the login
        lifespan=lifespan,
    )
    app.state.database = database
    app.state.images = CaseImages(folder)
    app.state.throttle = throttle or LoginThrottle()
    app.state.secure_cookies = secure_cookies

    # Added last = outermost: the guard's headers and limits apply to every answer, the
    # trusted-host refusal and 500s included.
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.add_middleware(GuardMiddleware, hsts=secure_cookies, max_body_bytes=max_body_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)

    app.include_router(auth_api.router)
    app.include_router(reader_api.router)
    app.include_router(admin_api.router)
    app.include_router(accounts_api.router)
    app.include_router(pages.router)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(auth: Login) -> dict[str, Any]:
        """The API's OpenAPI schema (login required)."""
        return app.openapi()

    return app


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    """422 naming each bad field and what is wrong, never echoing the request's content."""
    errors = error.errors() if isinstance(error, RequestValidationError) else []
    detail = [
        {"loc": [str(part) for part in item.get("loc", ())], "msg": str(item.get("msg", "")),
         "type": str(item.get("type", ""))}
        for item in errors
    ]  # fmt: skip
    return JSONResponse({"detail": detail}, status_code=422)
