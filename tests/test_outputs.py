import os
from pathlib import Path

import pytest

from fracturelab.errors import InputError
from fracturelab.outputs import atomic_path, atomic_write_text, check_output_dir


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


def test_output_folder_may_exist_or_be_new(tmp_path):
    assert check_output_dir(tmp_path) == tmp_path
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert list(tmp_path.iterdir()) == []  # nothing created


def test_output_folder_that_is_a_file_names_the_option(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("{}")
    with pytest.raises(InputError, match=rf"^--model-out {target}: is a file, not a folder"):
        check_output_dir(target, "--model-out")


def test_output_folder_below_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match=rf"^--out {blocker / 'a' / 'b'}: {blocker} is a file"):
        check_output_dir(blocker / "a" / "b")


def test_not_writable_folder_by_access_rules(tmp_path, monkeypatch):
    # Tests may run as root, whom permission bits do not stop: ask os.access as the code does.
    calls = []

    def no_write(path, mode):
        calls.append((Path(path), mode))
        return not mode & os.W_OK

    monkeypatch.setattr(os, "access", no_write)
    with pytest.raises(InputError, match=rf"--out {tmp_path / 'x'}: folder \({tmp_path}, where"):
        check_output_dir(tmp_path / "x")
    assert calls == [(tmp_path, os.W_OK | os.X_OK)]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_folder_for_real(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(InputError, match="is not writable"):
        check_output_dir(locked / "out")


def test_csv_from_mappings_and_sequences_quotes_commas(tmp_path):
    from fracturelab.outputs import write_csv

    path = write_csv(tmp_path / "t.csv", ["id", "note"], [{"id": 1}, [2, "a,b"]])
    assert path.read_bytes() == b'id,note\n1,\n2,"a,b"\n'


def test_csv_row_with_an_unknown_column_is_refused(tmp_path):
    from fracturelab.outputs import write_csv

    with pytest.raises(ValueError):
        write_csv(tmp_path / "t.csv", ["id"], [{"id": 1, "extra": 2}])
    assert not (tmp_path / "t.csv").exists()


def test_csv_row_of_the_wrong_length_is_refused(tmp_path):
    from fracturelab.outputs import csv_text

    with pytest.raises(ValueError, match="3 values for 2 columns"):
        csv_text(["a", "b"], [[1, 2, 3]])


def test_figure_saved_as_png_and_closed(tmp_path):
    from fracturelab.outputs import pyplot, save_figure

    plt = pyplot()
    figure = plt.figure(figsize=(1, 1))
    path = save_figure(figure, tmp_path / "sub" / "f.png", dpi=50)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not plt.fignum_exists(figure.number)
    assert [p.name for p in path.parent.iterdir()] == ["f.png"]
