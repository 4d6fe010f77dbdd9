"""Helpers shared by the workstation tests: a reader's reading of a case, answered and finished."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from typer.testing import CliRunner

from fracturelab.cli.main import app
from fracturelab.workstation.answers import save_answer
from fracturelab.workstation.models import Case, Reading, User
from fracturelab.workstation.worklist import assign, finish_reading, open_reading

__all__ = ["cli_ok", "cli_runner", "read_case"]

#: Runs the ``fracturelab`` command in-process; wide, so long temporary paths do not wrap.
cli_runner = CliRunner(env={"COLUMNS": "400"})


def cli_ok(*args: str, stdin: str | None = None) -> str:
    """Run ``fracturelab workstation ARGS`` and return its output, asserting exit code 0."""
    result = cli_runner.invoke(app, ["workstation", *args], input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def read_case(
    session: Session, case: Case, user: User, answers: dict[str, dict[str, Any]], done: bool = True
) -> Reading:
    """Assign ``case`` to ``user``, save ``answers`` (key -> answer), mark it done if ``done``."""
    assign(session, [case], user)
    reading = open_reading(session, case, user)
    for key, value in answers.items():
        save_answer(session, reading, key, value, user)
    if done:
        finish_reading(session, reading, user)
    return reading
