"""grand-challenge.org algorithm containers: sockets, entrypoint, build context, local test.

See docs/grand-challenge.md. The entrypoint (:func:`run_algorithm`) reads the platform's
``/input`` and writes ``/output``; :func:`write_build_context` writes a Docker build context;
:func:`simulate` runs the entrypoint the way the platform does and checks its outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fracturelab.lazy import lazy_exports

if TYPE_CHECKING:
    from fracturelab.grandchallenge.build import write_build_context
    from fracturelab.grandchallenge.entrypoint import RunResult, run_algorithm
    from fracturelab.grandchallenge.simulate import check_outputs, make_input_folder, simulate

__all__ = [
    "RunResult",
    "check_outputs",
    "make_input_folder",
    "run_algorithm",
    "simulate",
    "write_build_context",
]

_HOMES = {
    "RunResult": "fracturelab.grandchallenge.entrypoint",
    "run_algorithm": "fracturelab.grandchallenge.entrypoint",
    "write_build_context": "fracturelab.grandchallenge.build",
    "check_outputs": "fracturelab.grandchallenge.simulate",
    "make_input_folder": "fracturelab.grandchallenge.simulate",
    "simulate": "fracturelab.grandchallenge.simulate",
}

__getattr__, __dir__ = lazy_exports(globals(), _HOMES)
