"""Login, logout and "who am I" routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from fracturelab.errors import InputError
from fracturelab.workstation.server.deps import DbSession, Login, Writer, client_address
from fracturelab.workstation.server.security import (
    COOKIE_NAME,
    LoginThrottle,
    end_session,
    log_login,
    start_session,
)
from fracturelab.workstation.users import get_user, verify_nobody, verify_password

__all__ = ["router"]

router = APIRouter(prefix="/api")


class LoginIn(BaseModel):
    """Body of ``POST /api/login``."""

    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=1024)


def _me(auth_user: Any, csrf_token: str) -> dict[str, str]:
    return {"username": auth_user.username, "role": auth_user.role, "csrf_token": csrf_token}


@router.post("/login")
def login(
    body: LoginIn, request: Request, response: Response, session: DbSession
) -> dict[str, str]:
    """Check the password, start a session and set its cookie; throttled after failures."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise HTTPException(415, "log in with a JSON body (Content-Type: application/json)")
    client = client_address(request)
    username = body.username.strip()
    throttle: LoginThrottle = request.app.state.throttle
    throttled = throttle.check(username, client)
    if throttled is not None:
        if throttled.audit:  # one row per throttled key and window, not one per attempt
            log_login(session, "login_throttled", username, None, client)
            session.commit()
        wait_s = throttled.retry_after_s
        raise HTTPException(
            429,
            f"too many failed logins; try again in {wait_s} s",
            headers={"Retry-After": str(wait_s)},
        )
    try:
        user = get_user(session, username)
    except InputError:
        user = None
    ok = verify_password(user, body.password) if user is not None else verify_nobody(body.password)
    if user is None or not ok or not user.active:
        throttle.failed(username, client)
        log_login(session, "login_failed", username, user, client)
        session.commit()
        raise HTTPException(401, "wrong user name or password")
    throttle.succeeded(username, client)
    token, row = start_session(session, user, client)
    log_login(session, "login", username, user, client)
    session.commit()
    response.set_cookie(  # no Max-Age: the cookie ends when the browser closes
        COOKIE_NAME,
        token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.app.state.secure_cookies or request.url.scheme == "https",
    )
    return _me(user, row.csrf_token)


@router.post("/logout", status_code=204)
def logout(request: Request, auth: Writer, session: DbSession) -> Response:
    """End the session and clear its cookie."""
    end_session(session, request.cookies.get(COOKIE_NAME))
    session.commit()
    response = Response(status_code=204)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me")
def me(auth: Login) -> dict[str, str]:
    """The logged-in user and the CSRF token their writes must carry."""
    return _me(auth.user, auth.web_session.csrf_token)
