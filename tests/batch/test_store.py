"""The results database: states, schema version, bad databases, PostgreSQL when available."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from fracturelab.batch import ResultsStore
from fracturelab.batch.store import ScanIdentity
from fracturelab.errors import InputError
from tests.postgres import empty_postgres


def _exercise(store: ResultsStore) -> None:
    key = f"1.2.3.{uuid.uuid4().int % 10**8}"
    store.register_runner()
    store.add(ScanIdentity(key, "/scans/a", series_uid=key), "v1", None)
    assert store.get(key) is not None and store.get(key).state == "pending"  # type: ignore[union-attr]
    assert store.claim(key, "v1", None) == 1
    assert store.claim(key, "v1", None) is None  # already running
    store.finish(key, "v1", None, "done", result={"vertebrae": []}, elapsed_s=1.5)
    record = store.get(key, "v1")
    assert record is not None and record.state == "done" and record.result == {"vertebrae": []}
    assert record.elapsed_s == 1.5 and record.finished_at is not None
    store.add(ScanIdentity(key, "/scans/a"), "v1", None)  # a rerun keeps the done row
    assert store.get(key).state == "done"  # type: ignore[union-attr]
    store.add(ScanIdentity(key, "/scans/a"), "v1", "abc")  # another model: another row
    assert store.get(key, "v1", "abc").state == "pending"  # type: ignore[union-attr]
    store.set_value("orthanc_last_change", "42")
    assert store.get_value("orthanc_last_change") == "42"
    store.finish_runner()


def test_sqlite(tmp_path: Path) -> None:
    store = ResultsStore(str(tmp_path / "r.db"))
    _exercise(store)
    assert store.counts()["done"] == 1
    store.dispose()


def test_reclaims_a_dead_runner(tmp_path: Path) -> None:
    first = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    first.register_runner()
    first.add(ScanIdentity("k", "/a"), "v1", None)
    first.claim("k", "v1", None)
    first.finish_runner()  # as if it had stopped with the scan in flight
    second = ResultsStore(f"sqlite:///{tmp_path / 'r.db'}")
    second.register_runner()
    assert second.reclaim(lease_s=3600) == 1
    assert second.get("k").state == "pending"  # type: ignore[union-attr]


def test_other_schema_version_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    ResultsStore(str(path)).dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE batch_meta SET value='0' WHERE name='schema_version'")
    with pytest.raises(InputError, match="schema version 0, this fracturelab reads version 1"):
        ResultsStore(str(path))


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("hello, not SQLite\n" * 100, encoding="utf-8")
    with pytest.raises(InputError, match="cannot be opened as a results database"):
        ResultsStore(str(path))
    with pytest.raises(InputError, match="does not exist; create it"):
        ResultsStore(str(tmp_path / "nowhere" / "r.db"))


def test_postgresql() -> None:
    store = ResultsStore(empty_postgres())
    _exercise(store)
    store.dispose()
    empty_postgres()  # leave the shared test database empty for the next test
