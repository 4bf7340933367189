"""Throwaway servers for the tests and the benchmarks: a private PostgreSQL and a private Redis, on
free loopback ports.

Both are started from the Debian packages (`postgresql`, `redis-server`; scripts/bootstrap.sh
--system-test-deps installs them) in a temporary folder, and removed by stop(). start() raises
RuntimeError with the reason when a server cannot start: the test fixtures (tests/throwaway.py) turn
that into a skip, or a failure when HAVEN_REQUIRE_POSTGRES=1 / HAVEN_REQUIRE_REDIS=1 (CI); `make bench`
reports its scale-out run as skipped, with the reason.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

from haven.ops.processes import die_with_parent, free_port


def _pg_bin() -> Path:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: [int(part) if part.isdigit() else 0 for part in Path(p).parts[-3].split(".")],
    )
    if not candidates:
        raise RuntimeError(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (install the postgresql package)"
        )
    return Path(candidates[-1]).parent


class ThrowawayPostgres:
    """A private PostgreSQL server in a temporary folder (as the `postgres` user when run as root)."""

    def __init__(self):
        self.bin = _pg_bin()
        self.as_root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="haven-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.log = self.base / "server.log"
        self.sockets.mkdir()
        self.port = free_port()
        if self.as_root:
            shutil.chown(self.base, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.base)

    def start(self) -> str:
        result = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "haven",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if result.returncode:
            raise RuntimeError(f"initdb failed: {result.stderr.strip() or result.stdout.strip()}")
        options = (
            f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=120 "
            "-c shared_buffers=32MB"
        )
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "-t", "60", "start"
        )
        if result.returncode:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(
                f"pg_ctl start failed: {result.stderr.strip() or result.stdout.strip()}\n{log}"
            )
        return f"postgresql+psycopg2://haven@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", timeout=60)
        shutil.rmtree(self.base, ignore_errors=True)


class ThrowawayRedis:
    """A private redis-server with a random password, no persistence, bound to 127.0.0.1."""

    def __init__(self, start_timeout: float = 20.0):
        binary = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
        )
        if binary is None:
            raise RuntimeError("no redis-server binary (install the redis-server Debian package)")
        self.binary = binary
        self.start_timeout = start_timeout
        self.base = Path(tempfile.mkdtemp(prefix="haven-redis-"))
        self.log = self.base / "server.log"
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        config = self.base / "redis.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\nprotected-mode yes\ndaemonize no\n"
            f'dir {self.base}\nsave ""\nappendonly no\nrequirepass {self.password}\n'
            f"logfile {self.log}\n"
        )
        config.chmod(0o600)
        self.process = subprocess.Popen(
            [self.binary, str(config)],
            cwd=self.base,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # own session; gone even if the test run is killed
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {self.process.returncode}: {self._tail()}")
            if self.ping():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {self.start_timeout:.0f}s: {self._tail()}")

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=2)

    def ping(self) -> bool:
        import redis

        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def _tail(self) -> str:
        return self.log.read_text(errors="replace")[-1500:] if self.log.exists() else "(no log)"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.base, ignore_errors=True)
