"""Shared pieces of the command line: turning user errors into one clear line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from fracturelab.errors import FracturelabError

__all__ = ["EXIT_INPUT_ERROR", "user_errors"]

#: Exit code for input the user can fix (missing file, bad argument, bad data).
EXIT_INPUT_ERROR = 2


@contextmanager
def user_errors() -> Iterator[None]:
    """Print a :class:`FracturelabError` as ``error: ...`` on stderr and exit with code 2.

    Anything else is a bug in fracturelab and keeps its traceback.
    """
    try:
        yield
    except FracturelabError as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"error: {message}", file=sys.stderr)
        raise typer.Exit(code=EXIT_INPUT_ERROR) from None
