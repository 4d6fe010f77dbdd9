"""Argument checks shared by the package: one place for "did you mean" suggestions.

Errors name the argument (or the command-line option), the bad value and the allowed values,
and suggest the closest allowed value, as MONAI's and TorchIO's checks do.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from fracturelab.errors import InputError

__all__ = ["check_choice", "closest_match", "did_you_mean"]


def closest_match(value: str, options: Iterable[str], cutoff: float = 0.6) -> str | None:
    """Return the option most like ``value`` (``difflib`` ratio >= ``cutoff``), or ``None``."""
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(value: str, options: Iterable[str], cutoff: float = 0.6) -> str:
    """Return `` (did you mean 'x'?)`` for the closest option, or ``""`` when none is close."""
    close = closest_match(value, options, cutoff)
    return f" (did you mean {close!r}?)" if close is not None else ""


def check_choice(name: str, value: str, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``.

    Args:
        name: The argument or command-line option, as the user wrote it (``--backbone``).
        value: The value given.
        allowed: The valid values, in the order the message lists them.

    Raises:
        InputError: ``name='bad' is not valid (did you mean 'x'?); allowed: a, b``.

    """
    options = list(allowed)
    if value in options:
        return value
    hint = did_you_mean(value, options)
    raise InputError(f"{name}={value!r} is not valid{hint}; allowed: {', '.join(options)}")
