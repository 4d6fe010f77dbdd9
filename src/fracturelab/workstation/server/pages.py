"""HTML pages and static files; everything but the login page needs a login.

A page is its HTML file under :data:`STATIC_DIR` with the parts pages share included as it is
served: a line ``<!--#include _head.html title="Worklist"-->`` is replaced by the file
``_head.html`` with ``{title}`` filled in. Shared parts (names starting with ``_``) are not
served on their own. Lists the front end takes from the server are written into the page as
JSON in an attribute: ``data-morphologies="{{morphologies}}"`` (see :data:`PAGE_DATA`).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path, PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from fracturelab.workstation.models import MORPHOLOGIES
from fracturelab.workstation.server.deps import Auth, DbSession, RowId, optional_login
from fracturelab.workstation.worklist import visible_case

__all__ = ["PAGE_DATA", "PUBLIC_STATIC", "STATIC_DIR", "render_page", "router"]

router = APIRouter()

#: The front end's files.
STATIC_DIR = Path(__file__).parent / "static"
#: Static files the login page needs; every other file needs a login.
PUBLIC_STATIC = frozenset({"login.js", "style.css"})
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
_HTML_HEADERS = {"Cache-Control": "no-store"}
_INCLUDE = re.compile(
    r'^ *<!--#include (?P<name>_[a-z-]+\.html)(?P<args>(?: [a-z]+="[^"]*")*)-->\n', re.MULTILINE
)
_ARGUMENT = re.compile(r' (?P<key>[a-z]+)="(?P<value>[^"]*)"')
_VALUE = re.compile(r"\{\{(?P<key>[a-z_]+)\}\}")

#: Values a page may carry for its script, each written as ``{{name}}`` in the page and
#: served as HTML-escaped JSON (the spine view's morphology choices come from here).
PAGE_DATA: dict[str, list[str]] = {"morphologies": list(MORPHOLOGIES)}

MaybeAuth = Annotated[Auth | None, Depends(optional_login)]


def render_page(name: str) -> str:
    """The page ``name`` (a file under :data:`STATIC_DIR`) with its shared parts included.

    ``{{key}}`` of :data:`PAGE_DATA` becomes that value as JSON, escaped for an attribute.
    """

    def include(match: re.Match[str]) -> str:
        text = (STATIC_DIR / match["name"]).read_text(encoding="utf-8")
        for argument in _ARGUMENT.finditer(match["args"]):
            text = text.replace("{" + argument["key"] + "}", argument["value"])
        return text

    def value(match: re.Match[str]) -> str:
        return html.escape(json.dumps(PAGE_DATA[match["key"]]), quote=True)

    page = _INCLUDE.sub(include, (STATIC_DIR / name).read_text(encoding="utf-8"))
    return _VALUE.sub(value, page)


def _page(name: str) -> HTMLResponse:
    return HTMLResponse(render_page(name), headers=_HTML_HEADERS)


def _error_page(status: int, message: str) -> HTMLResponse:
    """A plain page saying what went wrong, with the way back to the worklist."""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<link rel="stylesheet" href="/static/style.css"><title>fracturelab</title></head>'
        f'<body class="error-page"><main><h1>{status}</h1><p>{html.escape(message)}</p>'
        '<p><a href="/">Back to your worklist</a></p></main></body></html>'
    )
    return HTMLResponse(body, status_code=status, headers=_HTML_HEADERS)


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


@router.get("/login", response_model=None)
def login_page() -> Response:
    """The login form (public)."""
    return _page("login.html")


@router.get("/", response_model=None)
def worklist_page(request: Request, auth: MaybeAuth) -> Response:
    """The logged-in user's worklist."""
    return _to_login(request) if auth is None else _page("worklist.html")


@router.get("/cases/{case_id}", response_model=None)
def case_page(case_id: RowId, request: Request, auth: MaybeAuth, session: DbSession) -> Response:
    """The reader view of a case: spine (NiiVue) or femur (radiograph canvas)."""
    if auth is None:
        return _to_login(request)
    case = visible_case(session, case_id, auth.user)
    if case is None:
        return _error_page(404, f"case {case_id} is not on your worklist")
    return _page("spine.html" if case.task == "spine" else "femur.html")


@router.get("/admin", response_model=None)
def admin_page(request: Request, auth: MaybeAuth) -> Response:
    """Progress, assignments and reference standard (admins only)."""
    if auth is None:
        return _to_login(request)
    if auth.user.role != "admin":
        return _error_page(403, f"user {auth.user.username!r} is not an admin")
    return _page("admin.html")


def static_file(relative: str) -> Path:
    """The file under :data:`STATIC_DIR` named by a URL path; 404 for anything outside it."""
    parts = PurePosixPath(relative).parts
    if (
        not parts
        or parts[-1].startswith("_")
        or any(
            part in ("..", "") or "\\" in part or part.startswith("/") or not part.isprintable()
            for part in parts
        )
    ):
        raise HTTPException(404, "no such file")
    root = STATIC_DIR.resolve()
    path = (root / Path(*parts)).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(404, "no such file")
    return path


@router.get("/static/{relative:path}", response_model=None)
def static(relative: str, auth: MaybeAuth) -> Response:
    """Front-end files; only those of the login page are public."""
    if auth is None and relative not in PUBLIC_STATIC:
        raise HTTPException(401, "not logged in; log in at /login")
    path = static_file(relative)
    media_type = _TYPES.get(path.suffix.lower(), "application/octet-stream")
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "no-cache"})
