"""The launcher's process handling, with small real processes standing in for the servers."""

from __future__ import annotations

import os
import sys
import time

import pytest

from haven import launcher
from haven import settings as settings_module

SERVER = (
    "import http.server, os, subprocess, sys;"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']);"  # a grandchild
    "http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler,"
    " port=int(sys.argv[1]), bind='127.0.0.1')"
)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_rasa_api_is_never_enabled_without_a_token() -> None:
    def api_args(env):
        services = {s.name: s for s in launcher.services(settings_module.load(env))}
        rasa, site = services["rasa server"], services["website"]
        args = rasa.argv[rasa.argv.index("--enable-api") :][:3]
        assert args[:2] == ["--enable-api", "--auth-token"]
        assert site.env["HAVEN_RASA_API_TOKEN"] == args[2], "the website server gets the same token"
        assert args[2] not in repr(site), "the token is kept out of reprs (and so out of logs)"
        return args[2]

    assert api_args({"RASA_AUTH_TOKEN": "s3cret"}) == "s3cret"
    first, second = api_args({}), api_args({})
    assert len(first) >= 40 and first != second, "without RASA_AUTH_TOKEN: a random token per launch"


def test_missing_model_is_a_clear_error(tmp_path) -> None:
    stack = launcher.Stack(settings_module.load({"HAVEN_MODEL_DIR": str(tmp_path)}))
    with pytest.raises(launcher.StackError, match="no trained model"):
        stack.start()


def test_stop_leaves_no_process_behind(tmp_path) -> None:
    (tmp_path / "haven.tar.gz").write_bytes(b"")
    settings = settings_module.load(
        {"HAVEN_MODEL_DIR": str(tmp_path), "ACTION_PORT": str(launcher.free_port()),
         "SITE_PORT": str(launcher.free_port()), "RASA_PORT": str(launcher.free_port())}
    )  # fmt: skip
    stack = launcher.Stack(settings, log_dir=tmp_path / "logs")
    for service in stack.services:
        port = service.health_url.split(":")[2].split("/")[0]
        service.argv = [sys.executable, "-c", SERVER, port]
        service.health_url = f"http://127.0.0.1:{port}/"
    stack.start(timeout=30)
    pids = [s.process.pid for s in stack.services]
    groups = {pid: [p for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == pid] for pid in pids}
    assert all(len(members) >= 2 for members in groups.values()), "each server should have its grandchild"

    stack.stop()

    time.sleep(0.2)
    leftovers = [int(p) for members in groups.values() for p in members if _alive(int(p))]
    assert leftovers == []
    for port in (settings.action_port, settings.site_port, settings.rasa_port):
        assert launcher.port_is_free("127.0.0.1", port)


def test_busy_port_is_reported_before_anything_starts(tmp_path) -> None:
    import socket

    (tmp_path / "haven.tar.gz").write_bytes(b"")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = launcher.Stack(
            settings_module.load({"HAVEN_MODEL_DIR": str(tmp_path), "SITE_PORT": str(port)})
        )
        with pytest.raises(launcher.StackError, match=str(port)):
            stack.start()
        assert all(s.process is None for s in stack.services)


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return -1


def test_default_launch_is_unchanged_by_the_scale_out_settings() -> None:
    services = launcher.services(settings_module.load({}))
    assert [s.name for s in services] == ["action server", "website", "rasa server"]
    rasa = services[-1]
    assert rasa.argv[rasa.argv.index("--endpoints") + 1] == str(settings_module.ROOT / "endpoints.yml")
    assert rasa.env["SANIC_WORKERS"] == "1"


def test_one_machine_of_a_scale_out_runs_only_the_servers_it_is_given() -> None:
    env = {
        "HAVEN_SERVICES": "rasa",
        "HAVEN_RASA_ENDPOINTS": "deploy/endpoints.scale-out.yml",
        "SANIC_WORKERS": "2",
        "HAVEN_ACTION_SERVER_URL": "http://10.0.0.10:5055/webhook",
    }
    settings = settings_module.load(env)
    [rasa] = launcher.services(settings)
    assert rasa.name == "rasa server"
    endpoints = rasa.argv[rasa.argv.index("--endpoints") + 1]
    assert endpoints == str(settings_module.ROOT / "deploy" / "endpoints.scale-out.yml")
    assert rasa.env["SANIC_WORKERS"] == "2"
    assert launcher.runtime_env(settings, {})["HAVEN_ACTION_URL"] == "http://10.0.0.10:5055/webhook"
    launcher.check_endpoints(settings, {})  # Redis locks and SQL trackers: several workers are fine


def test_several_workers_with_in_memory_stores_are_refused_before_anything_starts(tmp_path) -> None:
    (tmp_path / "haven.tar.gz").write_bytes(b"")
    partial = tmp_path / "endpoints.yml"
    partial.write_text("lock_store:\n  type: redis\n  url: localhost\n")  # trackers still in memory
    for endpoints, refused in ((settings_module.ROOT / "endpoints.yml", "lock_store in"),
                               (partial, "tracker_store")):  # fmt: skip
        settings = settings_module.load(
            {"HAVEN_MODEL_DIR": str(tmp_path), "HAVEN_RASA_ENDPOINTS": str(endpoints), "SANIC_WORKERS": "2",
             "RASA_PORT": str(launcher.free_port()), "HAVEN_SERVICES": "rasa"}
        )  # fmt: skip
        stack = launcher.Stack(settings)
        with pytest.raises(launcher.StackError, match=f"SANIC_WORKERS=2 needs .*{refused}"):
            stack.start()
        assert all(s.process is None for s in stack.services)


def test_a_missing_endpoints_file_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "haven.tar.gz").write_bytes(b"")
    settings = settings_module.load(
        {"HAVEN_MODEL_DIR": str(tmp_path), "HAVEN_RASA_ENDPOINTS": str(tmp_path / "nope.yml"),
         "RASA_PORT": str(launcher.free_port()), "HAVEN_SERVICES": "rasa"}
    )  # fmt: skip
    with pytest.raises(launcher.StackError, match="no Rasa endpoints file"):
        launcher.Stack(settings).start()


def test_store_types_are_read_with_environment_expansion(tmp_path) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("lock_store:\n  type: ${LOCKS}\ntracker_store:\n  type: SQL\n")
    assert launcher._store_types(endpoints, {"LOCKS": "redis"}) == {
        "lock_store": "redis",
        "tracker_store": "sql",
    }
