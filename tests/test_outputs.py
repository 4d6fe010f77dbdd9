import os

import pytest

from fracturelab.outputs import atomic_path, atomic_write_text


def test_written_file_follows_the_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "a" / "report.json", "{}")
    finally:
        os.umask(previous)
    assert path.read_text() == "{}"
    assert path.stat().st_mode & 0o777 == 0o644


def test_failure_leaves_nothing_behind(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.csv") as temporary:
        temporary.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
