"""fracturelab: detect and characterise bone fractures in medical images."""

from __future__ import annotations

from fracturelab.errors import FracturelabError, InputError

__all__ = ["FracturelabError", "InputError", "__version__"]

__version__ = "0.1.0"
