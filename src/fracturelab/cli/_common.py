"""Shared pieces of the command line: turning user errors into one clear line."""

from __future__ import annotations

import functools
import math
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated

import typer

from fracturelab.errors import FracturelabError, InputError

__all__ = [
    "EXIT_INPUT_ERROR",
    "DeviceOption",
    "DevicesOption",
    "name_options",
    "parse_triple",
    "renamed",
    "user_errors",
]

#: Exit code for input the user can fix (missing file, bad argument, bad data).
EXIT_INPUT_ERROR = 2

#: ``--device`` of the training commands.
DeviceOption = Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:N or mps.")]

#: ``--devices`` of the training commands (distributed data parallel; docs/training.md).
DevicesOption = Annotated[
    int,
    typer.Option(
        help="Processes training each network together: one per GPU (distributed data "
        "parallel); with --device cpu, CPU processes. --batch-size is over all of them."
    ),
]


def name_options(message: str, options: Mapping[str, str]) -> str:
    """Put the command-line options in place of the Python names a library message uses.

    Library functions name their parameters (``n_images 0 is not valid``,
    ``n_folds=1 is not valid``); on the command line the user typed ``--n`` or ``--folds``.
    A name with an underscore is replaced wherever it stands as a whole word (not inside a
    path or a longer name); a plain word (``seed``, ``levels``) only where it starts the
    message, as its subject, so that ordinary words elsewhere stay. ``name=value`` becomes
    ``--option value``.

    Args:
        message: The library's message.
        options: Python name -> what to say instead (usually the option, ``"--n"``).

    Returns:
        The message with the names replaced.

    """
    for name, option in options.items():
        pattern = rf"(?<![\w./\\-]){re.escape(name)}(?![\w-])(=)?"
        if "_" not in name:
            pattern = "^" + pattern
        message = re.sub(pattern, functools.partial(_option_for, option), message)
    return message


def _option_for(option: str, match: re.Match[str]) -> str:
    return option + (" " if match.group(1) else "")


@contextmanager
def renamed(options: Mapping[str, str]) -> Iterator[None]:
    """Re-raise an :class:`InputError` with its Python names replaced (see :func:`name_options`)."""
    try:
        yield
    except InputError as error:
        raise InputError(name_options(str(error), options)) from None


@contextmanager
def user_errors(options: Mapping[str, str] | None = None) -> Iterator[None]:
    """Print a :class:`FracturelabError` as ``error: ...`` on stderr and exit with code 2.

    An error that collects several problems (its ``problems`` attribute, as a dataset check
    raises) prints one ``error:`` line per problem and then how many there are. Anything else
    is a bug in fracturelab and keeps its traceback.

    Args:
        options: Python parameter name -> the command-line option that sets it, so that the
            message names what the user typed (see :func:`name_options`).

    """
    try:
        yield
    except FracturelabError as error:
        problems = [str(p) for p in getattr(error, "problems", None) or [str(error)]]
        for problem in problems:
            message = problem.splitlines()[0] if problem else type(error).__name__
            print(f"error: {name_options(message, options or {})}", file=sys.stderr)
        if len(problems) > 1:
            print(f"{len(problems)} problems; fix them and run again", file=sys.stderr)
        raise typer.Exit(code=EXIT_INPUT_ERROR) from None


def parse_triple(option: str, text: str, example: str = "0.8,0.8,1") -> tuple[float, float, float]:
    """Read three positive millimetre values (left-right, anterior-posterior, superior-inferior).

    Args:
        option: The command-line option, for the message (``--spacing``).
        text: What the user typed: three comma-separated numbers, or one for all three.
        example: An example value for the message.

    Raises:
        InputError: One line naming ``option`` and ``text`` for anything else.

    """
    hint = (
        f"{option} {text!r} is not valid; write three numbers in mm separated by commas "
        f"(left-right,anterior-posterior,superior-inferior) like {example}, or one number"
    )
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise InputError(hint) from None
    if len(values) == 1:
        values *= 3
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        raise InputError(hint)
    return values[0], values[1], values[2]
