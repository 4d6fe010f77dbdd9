"""The workstation's web server: FastAPI application, authentication and the browser front end.

- :mod:`.app` — :func:`~.app.create_app`, the application factory;
- :mod:`.security` — sessions, CSRF tokens and login throttling;
- :mod:`.deps` — request dependencies (database session, logged-in user, admin check);
- :mod:`.images` — case images served from their files (NIfTI for NiiVue, uint16 radiographs);
- :mod:`.reader_api` / :mod:`.admin_api` / :mod:`.pages` — the routes;
- :mod:`.run` — :func:`~.run.serve`, used by ``fracturelab workstation serve``.

The HTTP API is described in ``docs/workstation-api.md``.
"""

from __future__ import annotations

__all__: list[str] = []
