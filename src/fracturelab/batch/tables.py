"""The tables of the results database (SQLAlchemy Core), prefixed ``batch_``."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, UniqueConstraint

__all__ = ["SCHEMA_VERSION", "meta_table", "metadata", "runners_table", "scans_table"]

#: Version of the tables below; a database of another version is refused.
SCHEMA_VERSION = "1"

metadata = MetaData()
meta_table = Table(
    "batch_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)
scans_table = Table(
    "batch_scans",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False),
    Column("algorithm_version", String(64), nullable=False),
    Column("model_hash", String(64), nullable=False, default=""),
    Column("series_uid", String(128)),
    Column("study_uid", String(128)),
    Column("patient_id", String(128)),
    Column("case_id", String(256)),
    Column("source", Text, nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("result", Text),
    Column("out_dir", Text),
    Column("owner", String(128)),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("elapsed_s", Float),
    Column("updated_at", Float, nullable=False),
    UniqueConstraint("key", "algorithm_version", "model_hash", name="batch_scans_identity"),
)
runners_table = Table(
    "batch_runners",
    metadata,
    Column("owner", String(128), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("finished_at", Float),
)
