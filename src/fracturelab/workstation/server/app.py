"""The workstation's FastAPI application."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from fracturelab.workstation.db import Database
from fracturelab.workstation.server import admin_api, auth_api, pages, reader_api
from fracturelab.workstation.server.deps import WRITE_METHODS, Login
from fracturelab.workstation.server.images import CaseImages
from fracturelab.workstation.server.security import LoginThrottle

__all__ = ["create_app"]

#: Content Security Policy: only this server's scripts; NiiVue needs WebGL, blobs and workers.
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' blob: data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(
    database: Database,
    *,
    cache_dir: Path | None = None,
    secure_cookies: bool = False,
    throttle: LoginThrottle | None = None,
) -> FastAPI:
    """Build the workstation application for one database.

    Args:
        database: The (checked) workstation database; the app does not dispose it.
        cache_dir: Folder for images converted to NIfTI for the browser; default a temporary
            folder removed at shutdown.
        secure_cookies: Mark the session cookie ``Secure`` even over plain HTTP (use behind an
            HTTPS proxy); it is always ``Secure`` on HTTPS requests.
        throttle: Login throttling limits (default 5 failures per user name, 20 per client,
            in 15 minutes).

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

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        origin = request.headers.get("origin")
        if request.method in WRITE_METHODS and origin and origin != _own_origin(request):
            response: Response = JSONResponse(
                {"detail": f"cross-site request from {origin} refused"}, status_code=403
            )
        else:
            response = await call_next(request)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.include_router(auth_api.router)
    app.include_router(reader_api.router)
    app.include_router(admin_api.router)
    app.include_router(pages.router)

    @app.get("/api/openapi.json", include_in_schema=False)
    def openapi(auth: Login) -> dict[str, Any]:
        """The API's OpenAPI schema (login required)."""
        return app.openapi()

    return app


def _own_origin(request: Request) -> str:
    host = request.headers.get("host", "")
    return f"{request.url.scheme}://{host}"
