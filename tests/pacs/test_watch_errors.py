"""``batch watch`` errors that need no Orthanc: one line, non-zero exit, no traceback."""

import socket

from typer.testing import CliRunner

from tests.pacs.test_watch import watch_app


def test_unreachable_orthanc_is_one_line_and_nonzero(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(
        watch_app(),
        ["watch", "--orthanc", f"http://127.0.0.1:{port}", "--results", str(tmp_path / "r.db"),
         "--once", "--retries", "1", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "failed after 2 tries" in lines[0]


def test_bad_options_are_one_line(tmp_path):
    runner = CliRunner()
    base = ["watch", "--results", str(tmp_path / "r.db"), "--once", "--quiet"]
    cases = [
        (["--orthanc", "127.0.0.1:8042"], "write it as http://host:8042"),
        (["--orthanc", "http://127.0.0.1:1", "--poll-s", "0"], "--poll-s 0.0: must be above 0"),
        (
            ["--orthanc", "http://127.0.0.1:1", "--segmenter-command", "seg"],
            "must hold {ct} and {out}",
        ),
    ]
    for extra, expected in cases:
        result = runner.invoke(watch_app(), [*base, *extra])
        assert result.exit_code == 2, result.output
        assert expected in result.output and "Traceback" not in result.output
