"""The labelling workstation's data layer: database, accounts, cases, answers, import, export.

These modules hold the workstation's rules (its services); the web routes in :mod:`.server`
only parse a request, call them and shape the JSON.

Modules (imported on their own, so ``fracturelab --help`` stays fast):

- :mod:`.settings` — the database URL (``--db`` or ``$FRACTURELAB_DB``);
- :mod:`.db` — engine, sessions and migrations (:func:`.db.init_database`);
- :mod:`.models` — the tables; :mod:`.users` — accounts with Argon2id hashes;
- :mod:`.worklist` — assignments, worklists and the life of a reading; :mod:`.answers` —
  validated, audited answers; :mod:`.readings` — readings counted for the reader and admin
  views; :mod:`.app_settings` — server-wide settings admins change; :mod:`.audit` — the one
  writer of audit rows;
- :mod:`.importer` / :mod:`.exporter` — cases in, labels out (training formats).
"""

from __future__ import annotations

__all__: list[str] = []
