"""Exceptions raised for problems a user can fix.

Library code raises these instead of exiting; the command line turns them into one line on
standard error and a non-zero exit code. Messages name the file or argument, the problem, and
the fix.
"""

from __future__ import annotations

__all__ = ["FracturelabError", "InputError"]


class FracturelabError(Exception):
    """Base class of every error fracturelab raises on purpose."""


class InputError(FracturelabError, ValueError):
    """Bad input from the user: a missing or unreadable file, a wrong argument, bad data."""
