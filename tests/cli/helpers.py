"""Helpers shared by the command-line tests: the one-line error, an unusable ``--out``, an app."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import Result

__all__ = ["app_with", "one_line_error", "unusable_out"]


def one_line_error(result: Result, *fragments: str) -> None:
    """Assert that a command failed with exit code 2 and exactly one ``error:`` line.

    Args:
        result: What ``CliRunner.invoke`` returned.
        fragments: Texts the error line must contain.

    """
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    assert "Traceback" not in result.output


def unusable_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, problem: str
) -> tuple[Path, Path]:
    """A file ``taken`` and an ``--out`` with ``problem``: a file, below a file, not writable.

    Args:
        tmp_path: The test's temporary folder; ``taken`` is written there.
        monkeypatch: Makes the folder read-only to :func:`os.access` for ``"not writable"``
            (root ignores permission bits).
        problem: ``"file"``, ``"below a file"`` or ``"not writable"``.

    Returns:
        ``(taken, out)``: the blocking file and the ``--out`` path to pass.

    """
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    out = {"file": blocker, "below a file": blocker / "sub", "not writable": tmp_path / "o"}
    if problem == "not writable":  # root ignores permission bits: answer as a read-only folder
        monkeypatch.setattr(os, "access", _no_write_access)
    return blocker, out[problem]


def _no_write_access(path: Any, mode: int) -> bool:
    return not mode & os.W_OK


def app_with(register: Callable[[typer.Typer], None]) -> typer.Typer:
    """A bare command group holding only the commands ``register`` adds (as the CLI wires them)."""
    app = typer.Typer()

    @app.callback()
    def _group() -> None:
        """Commands under test."""

    register(app)
    return app
