"""The workstation's web server: FastAPI application, authentication and the browser front end.

- :mod:`.app` — :func:`~.app.create_app`, the application factory;
- :mod:`.security` — sessions, CSRF tokens and login throttling;
- :mod:`.deps` — request dependencies (database session, logged-in user, admin check);
- :mod:`.images` — case images served from their files (NIfTI for NiiVue, uint16 radiographs);
- :mod:`.reader_api` / :mod:`.admin_api` / :mod:`.accounts_api` / :mod:`.auth_api` /
  :mod:`.pages` — the routes: they parse a request, call the services of
  :mod:`fracturelab.workstation` (worklist, answers, readings, app settings, users, audit) and
  shape the JSON; no route queries the database itself or imports from another route module;
- :mod:`.run` — :func:`~.run.serve`, used by ``fracturelab workstation serve``.

The front end (``static/``) is plain ES modules, no build step: ``reader.js`` is the shell of
the spine and femur views (start-up, shared keys, the help table from the key map),
``http.js`` / ``banners.js`` / ``autosave.js`` / ``timing.js`` / ``topbar.js`` / ``help.js`` /
``keys.js`` / ``dom.js`` one job each; pages share ``_head.html`` and the other ``_*.html``
parts through :func:`.pages.render_page`. ``make js-check`` type-checks it (JSDoc, tsc).

The HTTP API is described in ``docs/workstation-api.md``.
"""

from __future__ import annotations

__all__: list[str] = []
