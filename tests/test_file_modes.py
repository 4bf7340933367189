"""Owner-only files (haven/ops/file_modes.py): the launcher's start-up check names every file or folder
holding visitors' data that other local users could read, and says how to fix it."""

from __future__ import annotations

import os
import subprocess
import sys

from haven import settings as settings_module
from haven.ops import file_modes
from haven.settings import ROOT


def test_looser_data_files_and_folders_are_named_with_the_fix(tmp_path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o700)
    (var / "haven.db").write_bytes(b"")
    (var / "rasa-tracker.db").write_bytes(b"")
    (var / "haven.db-wal").write_bytes(b"")
    os.chmod(var / "haven.db", 0o600)
    os.chmod(var / "rasa-tracker.db", 0o644)  # what the default umask made before
    os.chmod(var / "haven.db-wal", 0o640)
    settings = settings_module.load(
        {"DATABASE_URL": f"sqlite:///{var / 'haven.db'}", "HAVEN_TRACKER_DB": str(var / "rasa-tracker.db")}
    )
    mine = [line for line in file_modes.warnings(settings) if str(tmp_path) in line]
    assert len(mine) == 2, mine
    assert (
        f"{var / 'rasa-tracker.db'} is readable by other users of this machine (mode 644)"
        in mine[0] + mine[1]
    )
    assert f"chmod 600 '{var / 'haven.db-wal'}'" in mine[0] + mine[1]
    os.chmod(var, 0o755)
    assert any(f"chmod 700 '{var}'" in line for line in file_modes.warnings(settings))


def test_a_process_that_asks_for_owner_only_files_creates_them_so(tmp_path) -> None:
    code = (
        "import sqlite3, sys; from haven.ops import file_modes; file_modes.owner_only();"
        "import os; os.makedirs(sys.argv[1] + '/var');"
        "sqlite3.connect(sys.argv[1] + '/var/x.db').execute('create table t(x)')"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        check=True,
        env={**os.environ},
    )
    assert oct((tmp_path / "var").stat().st_mode & 0o777) == "0o700"
    assert oct((tmp_path / "var" / "x.db").stat().st_mode & 0o777) == "0o600"


def test_no_warning_for_a_postgresql_database() -> None:
    assert file_modes.sqlite_path("postgresql://u@h/db") is None
    assert file_modes.sqlite_path("sqlite:///:memory:") is None


def test_the_databases_are_created_owner_only_whatever_the_umask(tmp_path) -> None:
    """A test run or `make purge` may open the default databases before the launcher sets its umask."""
    from haven.db.session import _create_engine
    from haven.plugins.tracker_store import ForgettingSQLTrackerStore

    old = os.umask(0o022)
    try:
        engine = _create_engine(f"sqlite:///{tmp_path / 'var' / 'app' / 'haven.db'}")
        with engine.connect():
            pass
        ForgettingSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "var" / "tracker" / "rasa-tracker.db"))
    finally:
        os.umask(old)
    for path in (tmp_path / "var", tmp_path / "var" / "app", tmp_path / "var" / "tracker"):
        assert path.stat().st_mode & 0o777 == 0o700, path
    for path in (tmp_path / "var" / "app" / "haven.db", tmp_path / "var" / "tracker" / "rasa-tracker.db"):
        assert path.stat().st_mode & 0o777 == 0o600, path
    assert file_modes.too_open([tmp_path / "var"]) == []
