"""Files only Haven can read: owner-only creation, and a check at start for looser ones (issue 11.4).

The SQLite tracker store holds every visitor's words verbatim and the application database holds
names and contacts; created with the usual umask (022) they were readable by every local user.
Every Haven process now creates files 0600 and folders 0700 (`OWNER_ONLY_UMASK`: the launcher sets
it for itself and, before exec, for each server; `make purge` too), and at start the launcher looks
at var/ and the SQLite files and says plainly which are readable by others and how to fix them. It
warns rather than changing modes: a looser mode may be deliberate (a backup user), and it is the
operator's call.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Iterator, List, Optional, Tuple

from sqlalchemy.engine import make_url

from haven.settings import ROOT, Settings

#: Files 0600, folders 0700.
OWNER_ONLY_UMASK = 0o077


def owner_only() -> None:
    """From now on this process (and what it starts) creates files and folders for its owner only."""
    os.umask(OWNER_ONLY_UMASK)


def private_sqlite_file(path: Path) -> None:
    """Create a SQLite file and missing folders owner-only before SQLite does, whatever the umask.

    The launcher sets the umask, but a test run, `make purge` or a one-off script may open the default
    databases first; without this, var/ and the databases came out 0755/0644 and every later `make run`
    warned about them.
    """
    path = path.expanduser()
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            pass
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def sqlite_path(database_url: str) -> Optional[Path]:
    """The file of a SQLite database URL, or None (another database, or in memory)."""
    try:
        url = make_url(database_url)
    except Exception:  # noqa: BLE001 - a malformed URL is reported where it is used
        return None
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    if url.database.startswith("file:"):
        return None
    return Path(url.database).expanduser()


def data_paths(settings: Settings) -> List[Path]:
    """Where visitors' data lives on this machine: var/, and the SQLite files wherever they are
    (with their -wal/-shm/-journal companions and the folders that hold them)."""
    files = [p for p in (sqlite_path(settings.database_url), settings.tracker_db) if p is not None]
    folders = {ROOT / "var", *(p.parent for p in files)}
    paths: List[Path] = []
    for folder in sorted(folders):
        if folder.is_dir():
            paths.append(folder)
            paths.extend(sorted(_walk(folder)))
    for file in files:
        for companion in (file, *(file.with_name(file.name + s) for s in ("-wal", "-shm", "-journal"))):
            if companion.exists() and companion not in paths:
                paths.append(companion)
    return paths


def _walk(folder: Path) -> Iterator[Path]:
    for root, dirs, names in os.walk(folder):
        for name in (*dirs, *names):
            yield Path(root) / name


def too_open(paths: Iterable[Path]) -> List[Tuple[Path, int]]:
    """(path, mode) for each path that its group or others can read, write or enter."""
    found = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except OSError:
            continue
        if path.is_symlink():
            continue
        if mode & 0o077:
            found.append((path, mode))
    return found


def warnings(settings: Settings) -> List[str]:
    """A clear warning per group- or world-accessible file or folder holding visitors' data."""
    lines = []
    for path, mode in too_open(data_paths(settings)):
        want = "700" if path.is_dir() else "600"
        lines.append(
            f"Warning: {path} is readable by other users of this machine (mode {mode:03o}); it holds "
            f"visitors' data. Fix it with: chmod {want} '{path}'"
        )
    return lines
