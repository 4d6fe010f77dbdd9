"""Writing result files atomically, so that a failure never leaves half a file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text"]


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; move it into place if the block succeeds.

    Args:
        target: Final file path; its folder is created if needed.

    """
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(final.suffixes)
    handle, name = tempfile.mkstemp(prefix=f".{final.stem}-", suffix=suffix, dir=final.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        umask = os.umask(0)
        os.umask(umask)
        temporary.chmod(0o666 & ~umask)  # mkstemp makes owner-only files; follow the umask
        temporary.replace(final)
    finally:
        temporary.unlink(missing_ok=True)


def atomic_write_text(target: str | Path, text: str) -> Path:
    """Write text (UTF-8) to ``target`` atomically and return the path."""
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(target)
