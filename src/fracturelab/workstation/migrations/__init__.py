"""Alembic migrations of the workstation database; run by :func:`..db.init_database`."""
