"""The labelling workstation's data layer: database, accounts, cases, answers, import, export.

Modules (imported on their own, so ``fracturelab --help`` stays fast):

- :mod:`.settings` — the database URL (``--db`` or ``$FRACTURELAB_DB``);
- :mod:`.db` — engine, sessions and migrations (:func:`.db.init_database`);
- :mod:`.models` — the tables; :mod:`.users` — accounts with Argon2id hashes;
- :mod:`.worklist` — assignments and readings; :mod:`.answers` — validated, audited answers;
- :mod:`.importer` / :mod:`.exporter` — cases in, labels out (training formats).
"""

from __future__ import annotations

__all__: list[str] = []
