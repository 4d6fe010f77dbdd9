"""Package exports that load their module on first use (PEP 562).

A package whose public names live in heavy modules (PyTorch, MONAI) lists them with the module
that defines each, and gets the module-level ``__getattr__`` and ``__dir__`` from here, so that
importing one of its light modules does not load the heavy ones::

    _HOMES = {"FemurModel": "fracturelab.femur.bundle", ...}
    __getattr__, __dir__ = lazy_exports(globals(), _HOMES)

Keep the same names under ``if TYPE_CHECKING:`` imports for type checkers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return a package's ``__getattr__`` and ``__dir__`` for its lazily loaded names.

    Args:
        namespace: The package's ``globals()``; a name, once loaded, is stored there.
        homes: Public name -> the module that defines it.

    """
    package = namespace["__name__"]

    def load(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name]), name)
        namespace[name] = value
        return value

    def names() -> list[str]:
        return sorted({*namespace, *namespace.get("__all__", ())})

    return load, names
