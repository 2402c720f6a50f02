"""Results are not lost: concurrent SQLite writers wait for each other, a lock held too long is
a failure that says so, and atomic writes survive crashes and clean up after killed writers."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pynomaly.builtin import atomic
from pynomaly.builtin.atomic import atomic_write, remove_stale_temporaries
from pynomaly.cli.main import cli


def test_eight_parallel_sqlite_writers_all_succeed(tmp_path, cli_env):
    """Real processes, one database file, a table each: before BEGIN IMMEDIATE two to six of
    them failed at once with "database is locked" (exit 2)."""
    db = tmp_path / "same.db"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pynomaly",
                "detect",
                "sample:wbc",
                "-d",
                "sklearn:elliptic",
                "-o",
                f"sqlite:///{db}",
                "--output-table",
                f"t_{i}",
                "--json",
            ],
            env=cli_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    failures = [(p.wait(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    for p in procs:
        p.stderr.close()  # type: ignore[union-attr]
    assert [code for code, _ in failures] == [0] * 8, failures
    with sqlite3.connect(db) as conn:
        counts = [conn.execute(f"SELECT COUNT(*) FROM t_{i}").fetchone()[0] for i in range(8)]
        anomalies = conn.execute("SELECT SUM(is_anomaly) FROM t_3").fetchone()[0]
    assert counts == [378] * 8 and anomalies == 38


def test_a_lock_held_past_the_busy_timeout_fails_with_exit_1(tmp_path, monkeypatch):
    db = tmp_path / "locked.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN EXCLUSIVE")  # another process's long write
    monkeypatch.setenv("PYNOMALY_SQLITE_BUSY_TIMEOUT", "0.2")
    try:
        result = CliRunner().invoke(
            cli, ["detect", "sample:wbc", "-d", "sklearn:elliptic", "-o", f"sqlite:///{db}"]
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1, result.output
    assert "stayed locked by another process for more than 0.2 s" in result.output
    assert "the results were not written" in result.output
    with sqlite3.connect(db) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert tables == {"other"}


@pytest.mark.parametrize("value", ["soon", "-1", "inf"])
def test_a_bad_busy_timeout_is_bad_input(tmp_path, value):
    result = CliRunner().invoke(
        cli,
        [
            "detect",
            "sample:wbc",
            "-o",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--source-option",
            f"busy_timeout={value}",
        ],
    )
    # sample:wbc ignores the option; the SQL output reads it (and so would a SQL source)
    assert result.exit_code == 2 and "busy_timeout must be a number of seconds" in result.output


# --------------------------------------------------------------------------------------------
# Atomic writes
# --------------------------------------------------------------------------------------------

SLOW_WRITER = """
import sys, time
from pathlib import Path
from pynomaly.builtin.atomic import atomic_write

def write(tmp):
    tmp.write_text("partial")
    print(tmp, flush=True)
    time.sleep(60)

atomic_write(sys.argv[1], write, overwrite=True)
"""


def test_a_killed_writer_leaves_no_temporary_file_after_the_next_write(tmp_path):
    dest = tmp_path / "scores.csv"
    dest.write_text("old\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(dest)], stdout=subprocess.PIPE, text=True
    )
    tmp = Path(proc.stdout.readline().strip())  # type: ignore[union-attr]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()  # type: ignore[union-attr]
    assert tmp.exists() and dest.read_text() == "old\n"  # what kill -9 leaves behind

    live = tmp_path / f".scores.csv.{atomic._host()}-{os.getpid()}.0123456789ab.tmp"
    live.write_text("being written by a live process")
    unrelated = tmp_path / ".scores.csv.mine.tmp"
    unrelated.write_text("not ours")
    atomic_write(dest, lambda p: p.write_text("new\n"), overwrite=True)
    assert dest.read_text() == "new\n"
    assert not tmp.exists()
    assert live.exists() and unrelated.exists()  # only provably stale files go


def test_temporaries_of_other_hosts_go_only_when_old(tmp_path):
    dest = tmp_path / "r.html"
    recent = tmp_path / ".r.html.00000000-1.0123456789ab.tmp"  # another host, PID unknown here
    old = tmp_path / ".r.html.ffffffff-2.0123456789ab.tmp"
    legacy = tmp_path / ".r.html.0123456789ab.tmp"  # pynomaly 1.0's name: no host, no PID
    for path in (recent, old, legacy):
        path.write_text("x")
    day_ago = time.time() - atomic.STALE_AFTER - 60
    for path in (old, legacy):
        os.utime(path, (day_ago, day_ago))
    assert sorted(remove_stale_temporaries(dest)) == sorted([old, legacy])
    assert recent.exists()


def test_the_file_is_flushed_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append("rename")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    dest = tmp_path / "out.json"
    atomic_write(dest, lambda p: p.write_text("{}"), overwrite=True)
    assert events == ["fsync file", "rename", "fsync dir"]
    assert dest.read_text() == "{}"
