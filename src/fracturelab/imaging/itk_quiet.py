"""Keep SimpleITK's own warnings off standard error while fracturelab reads images.

ITK prints warnings such as ``WARNING: In /tmp/SimpleITK-build/...`` straight to standard
error (for a folder without DICOM files, for example). fracturelab reports problems itself, as
one line, so reads run with ITK's global warning display switched off and restored afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["itk_warnings_off"]

_lock = threading.Lock()
_depth = 0
_previous = True


@contextmanager
def itk_warnings_off() -> Iterator[None]:
    """Switch ITK's global warning display off inside the block (nested and thread-safe)."""
    import SimpleITK as sitk

    global _depth, _previous
    with _lock:
        if _depth == 0:
            _previous = bool(sitk.ProcessObject.GetGlobalWarningDisplay())
            sitk.ProcessObject.SetGlobalWarningDisplay(False)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                sitk.ProcessObject.SetGlobalWarningDisplay(_previous)
