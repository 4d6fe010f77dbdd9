"""Helpers for the web-server tests: an app on the test database and logged-in clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.testclient import TestClient

from fracturelab.workstation.db import Database
from fracturelab.workstation.server.app import create_app

if TYPE_CHECKING:
    import uvicorn

PASSWORDS = {"admin": "admin-password", "alice": "alice-password", "bob": "bob-password1"}


def make_app(database: Database, cache_dir: Path) -> FastAPI:
    return create_app(database, cache_dir=cache_dir)


def login(app: FastAPI, username: str, *, raise_server_exceptions: bool = True) -> TestClient:
    """A client logged in as ``username``, sending its CSRF token on every request.

    With ``raise_server_exceptions=False`` a server error comes back as the response the
    browser would get instead of being raised in the test.
    """
    client = TestClient(app, raise_server_exceptions=raise_server_exceptions)
    response = client.post(
        "/api/login", json={"username": username, "password": PASSWORDS[username]}
    )
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on loopback in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    with running(config) as base:
        yield base


@contextmanager
def running(config: uvicorn.Config) -> Iterator[str]:
    """Run a uvicorn configuration (host 127.0.0.1) in a thread; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
