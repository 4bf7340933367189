"""The launcher's process handling, with small real processes standing in for the servers."""

from __future__ import annotations

import os
import sys
import time

import pytest

from haven import settings as settings_module
from haven.ops import processes

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


def test_rasa_api_is_never_enabled_without_a_token_and_no_secret_is_on_a_command_line() -> None:
    from haven.plugins.rasa_server import api_arguments

    def api_token(env):
        services = {s.name: s for s in processes.services(settings_module.load(env))}
        rasa, site, actions = services["rasa server"], services["website"], services["action server"]
        token = rasa.env["HAVEN_RASA_API_TOKEN"]
        assert site.env["HAVEN_RASA_API_TOKEN"] == token, "the website server gets the same token"
        assert rasa.env["HAVEN_ACTION_TOKEN"] == actions.env["HAVEN_ACTION_TOKEN"], "one action secret"
        for service in services.values():
            argv = " ".join(service.argv)
            assert token not in argv and actions.env["HAVEN_ACTION_TOKEN"] not in argv
            assert "--auth-token" not in argv
            assert token not in repr(service), "the token is kept out of reprs (and so out of logs)"
        # haven.plugins.rasa_server turns the API on inside the process, from its environment.
        assert api_arguments(["rasa", "run", "--port", "1"], token)[-2:] == [
            "--enable-api",
            f"--auth-token={token}",
        ]
        assert api_arguments(["rasa", "run"], None) == ["rasa", "run"], "no token: no API"
        return token

    assert api_token({"RASA_AUTH_TOKEN": "s3cret"}) == "s3cret"
    first, second = api_token({}), api_token({})
    assert len(first) >= 40 and first != second, "without RASA_AUTH_TOKEN: a random token per launch"


def test_a_launcher_with_only_one_of_rasa_and_actions_needs_the_shared_action_secret(tmp_path) -> None:
    (tmp_path / "haven.tar.gz").write_bytes(b"")
    env = {
        "HAVEN_MODEL_DIR": str(tmp_path),
        "HAVEN_SERVICES": "rasa",
        "RASA_PORT": str(processes.free_port()),
    }
    with pytest.raises(processes.StackError, match="HAVEN_ACTION_TOKEN must be set"):
        processes.Stack(settings_module.load(env)).spawn()


def test_missing_model_is_a_clear_error(tmp_path) -> None:
    stack = processes.Stack(settings_module.load({"HAVEN_MODEL_DIR": str(tmp_path)}))
    with pytest.raises(processes.StackError, match="no trained model"):
        stack.start()


@pytest.mark.e2e
def test_stop_leaves_no_process_behind(tmp_path) -> None:
    stack = _stand_in_stack(tmp_path)
    settings = stack.settings
    pids = [s.process.pid for s in stack.services]
    groups = {pid: [p for p in os.listdir("/proc") if p.isdigit() and _pgid(int(p)) == pid] for pid in pids}
    assert all(len(members) >= 2 for members in groups.values()), "each server should have its grandchild"

    stack.stop()

    time.sleep(0.2)
    leftovers = [int(p) for members in groups.values() for p in members if _alive(int(p))]
    assert leftovers == []
    for port in (settings.action_port, settings.site_port, settings.rasa_port):
        assert processes.port_is_free("127.0.0.1", port)


def test_busy_port_is_reported_before_anything_starts(tmp_path) -> None:
    import socket

    (tmp_path / "haven.tar.gz").write_bytes(b"")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        stack = processes.Stack(
            settings_module.load({"HAVEN_MODEL_DIR": str(tmp_path), "SITE_PORT": str(port)})
        )
        with pytest.raises(processes.StackError, match=str(port)):
            stack.start()
        assert all(s.process is None for s in stack.services)


def test_two_servers_given_one_port_are_refused_before_anything_starts(tmp_path) -> None:
    (tmp_path / "haven.tar.gz").write_bytes(b"")
    port = str(processes.free_port())
    stack = processes.Stack(
        settings_module.load({"HAVEN_MODEL_DIR": str(tmp_path), "SITE_PORT": port, "ACTION_PORT": port,
                              "RASA_PORT": str(processes.free_port())})
    )  # fmt: skip
    with pytest.raises(processes.StackError, match=f"port\\(s\\) \\[{port}\\] are set for more than one"):
        stack.start()
    assert all(s.process is None for s in stack.services)


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    """Tests ask for three ports before starting three servers; the kernel alone may repeat one."""
    ports = [processes.free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


@pytest.mark.e2e
def test_a_server_that_answered_and_then_exited_while_the_others_started_fails_the_start(tmp_path) -> None:
    """Its health check answered through a port another process holds; the start must not succeed."""
    stack = _stand_ins(tmp_path)
    actions, website, rasa = stack.services
    website.argv = [sys.executable, "-c", "import sys, time; time.sleep(1.5); sys.exit(3)"]
    website.health_url = actions.health_url  # answered by the action server's stand-in
    rasa.argv = [sys.executable, "-c", f"import time; time.sleep(4); exec({SERVER!r})", rasa.argv[-1]]
    with pytest.raises(processes.StackError, match="the website exited with code 3 while starting"):
        stack.start(timeout=30)
    assert all(s.process.poll() is not None for s in stack.services), "the others were stopped"


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return -1


def test_default_launch_is_unchanged_by_the_scale_out_settings() -> None:
    services = processes.services(settings_module.load({}))
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
    [rasa] = processes.services(settings)
    assert rasa.name == "rasa server"
    endpoints = rasa.argv[rasa.argv.index("--endpoints") + 1]
    assert endpoints == str(settings_module.ROOT / "deploy" / "endpoints.scale-out.yml")
    assert rasa.env["SANIC_WORKERS"] == "2"
    assert processes.runtime_env(settings, {})["HAVEN_ACTION_URL"] == "http://10.0.0.10:5055/webhook"
    processes.check_endpoints(settings, {})  # Redis locks and SQL trackers: several workers are fine


def test_several_workers_with_in_memory_stores_are_refused_before_anything_starts(tmp_path) -> None:
    (tmp_path / "haven.tar.gz").write_bytes(b"")
    partial = tmp_path / "endpoints.yml"
    partial.write_text("lock_store:\n  type: redis\n  url: localhost\n")  # trackers still in memory
    for endpoints, refused in ((settings_module.ROOT / "endpoints.yml", "lock_store in"),
                               (partial, "tracker_store")):  # fmt: skip
        settings = settings_module.load(
            {"HAVEN_MODEL_DIR": str(tmp_path), "HAVEN_RASA_ENDPOINTS": str(endpoints), "SANIC_WORKERS": "2",
             "RASA_PORT": str(processes.free_port()), "HAVEN_SERVICES": "rasa"}
        )  # fmt: skip
        stack = processes.Stack(settings)
        with pytest.raises(processes.StackError, match=f"SANIC_WORKERS=2 needs .*{refused}"):
            stack.start()
        assert all(s.process is None for s in stack.services)


def test_a_missing_endpoints_file_is_a_clear_error(tmp_path) -> None:
    (tmp_path / "haven.tar.gz").write_bytes(b"")
    settings = settings_module.load(
        {"HAVEN_MODEL_DIR": str(tmp_path), "HAVEN_RASA_ENDPOINTS": str(tmp_path / "nope.yml"),
         "RASA_PORT": str(processes.free_port()), "HAVEN_SERVICES": "rasa"}
    )  # fmt: skip
    with pytest.raises(processes.StackError, match="no Rasa endpoints file"):
        processes.Stack(settings).start()


def test_store_types_are_read_with_environment_expansion(tmp_path) -> None:
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("lock_store:\n  type: ${LOCKS}\ntracker_store:\n  type: SQL\n")
    assert processes._store_types(endpoints, {"LOCKS": "redis"}) == {
        "lock_store": "redis",
        "tracker_store": "sql",
    }


def _stand_ins(tmp_path, extra_env=None) -> processes.Stack:
    """A Stack whose three servers are small HTTP servers (with a grandchild each), not started."""
    (tmp_path / "haven.tar.gz").write_bytes(b"")
    settings = settings_module.load(
        {"HAVEN_MODEL_DIR": str(tmp_path), "ACTION_PORT": str(processes.free_port()),
         "SITE_PORT": str(processes.free_port()), "RASA_PORT": str(processes.free_port()),
         **(extra_env or {})}
    )  # fmt: skip
    stack = processes.Stack(settings, log_dir=tmp_path / "logs")
    for service in stack.services:
        port = service.health_url.split(":")[2].split("/")[0]
        service.argv = [sys.executable, "-c", SERVER, port]
        service.health_url = f"http://127.0.0.1:{port}/"
    return stack


def _stand_in_stack(tmp_path, extra_env=None) -> processes.Stack:
    """_stand_ins(), started."""
    stack = _stand_ins(tmp_path, extra_env)
    stack.start(timeout=30)
    return stack


def _supervise_until(stack, said, done, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"supervision did not get there; said: {said}"
        stack.supervise(said.append)
        time.sleep(0.1)


@pytest.mark.e2e
def test_a_killed_server_is_restarted_with_backoff_while_the_others_keep_serving(tmp_path) -> None:
    stack = _stand_in_stack(tmp_path)
    try:
        actions, others = stack.services[0], stack.services[1:]
        old = actions.process.pid
        said: list = []
        began = time.monotonic()
        os.kill(old, 9)
        _supervise_until(stack, said, lambda: any("answering again" in line for line in said), 20)
        assert actions.process.pid != old and actions.process.poll() is None
        assert time.monotonic() - began >= 1.0, "the first restart waits 1 s"
        assert "The action server was killed by signal 9; restarting it in 1 s" in said[0]
        assert all(processes.answers(s.health_url) for s in others), "the others never stopped"
        assert all(s.process.poll() is None for s in others)
        # Again: the second crash within the window waits twice as long.
        os.kill(actions.process.pid, 9)
        said.clear()
        _supervise_until(stack, said, lambda: any("answering again" in line for line in said), 20)
        assert "restarting it in 2 s (crash 2 of at most 6 in 10 minutes)" in said[0]
    finally:
        stack.stop()
    for port in (stack.settings.action_port, stack.settings.site_port, stack.settings.rasa_port):
        assert processes.port_is_free("127.0.0.1", port)


@pytest.mark.e2e
def test_a_server_that_keeps_crashing_is_given_up_on_and_the_others_keep_serving(tmp_path) -> None:
    stack = _stand_in_stack(tmp_path, {"HAVEN_RESTART_LIMIT": "2", "HAVEN_RESTART_WINDOW_SECONDS": "60"})
    try:
        website = stack.services[1]
        website.argv = [sys.executable, "-c", "import sys; sys.exit(3)"]  # every restart fails at once
        os.kill(website.process.pid, 9)
        said: list = []
        _supervise_until(stack, said, lambda: website.given_up, 30)
        assert [line.split(";")[0] for line in said if "restarting it in" in line] == [
            "The website was killed by signal 9",
            "The website exited with code 3",
        ]
        assert "has crashed 3 times in 1 minutes; Haven has stopped restarting it" in said[-1]
        assert "The other servers keep running" in said[-1]
        assert stack.supervise(said.append) is True, "the launcher carries on with the others"
        for service in (stack.services[0], stack.services[2]):
            assert processes.answers(service.health_url)
    finally:
        stack.stop()


def test_restart_policy_backoff_doubles_to_30_s_and_forgets_old_crashes() -> None:
    from haven.ops.supervisor import RestartPolicy

    policy = RestartPolicy(limit=8, window_s=600)
    assert [policy.crashed(t) for t in range(8)] == [1, 2, 4, 8, 16, 30, 30, 30]
    assert policy.crashed(8) is None, "the ninth crash within ten minutes: give up"
    fresh = RestartPolicy(limit=6, window_s=600)
    assert fresh.crashed(0) == 1 and fresh.crashed(10) == 2
    assert fresh.crashed(700) == 1, "crashes older than the window no longer count"


def test_servers_get_one_blas_thread_unless_the_operator_says_otherwise() -> None:
    settings = settings_module.load({})
    assert processes.runtime_env(settings, {})["OPENBLAS_NUM_THREADS"] == "1"
    assert processes.runtime_env(settings, {"OPENBLAS_NUM_THREADS": "4"})["OPENBLAS_NUM_THREADS"] == "4"


@pytest.mark.parametrize("token", ["-starts-with-a-dash_0123456789abcdefghijklmnop", "--twice", "plain"])
def test_rasa_reads_any_api_token_the_launcher_passes(token) -> None:
    """token_urlsafe starts with "-" one launch in 64; Rasa's own parser must still read it (a
    separate argument made `rasa run` exit with "expected one argument")."""
    from rasa.__main__ import create_argument_parser

    from haven.plugins.rasa_server import api_arguments

    argv = api_arguments(["rasa", "run", "--port", "1"], token)
    parsed = create_argument_parser().parse_args(argv[1:])
    assert parsed.auth_token == token and parsed.enable_api
    assert api_arguments(argv, "other") == argv, "a token already there is kept"


def test_servers_get_quiet_tensorflow_unless_the_operator_says_otherwise() -> None:
    settings = settings_module.load({})
    assert processes.runtime_env(settings, {})["TF_CPP_MIN_LOG_LEVEL"] == "3"
    assert processes.runtime_env(settings, {"TF_CPP_MIN_LOG_LEVEL": "0"})["TF_CPP_MIN_LOG_LEVEL"] == "0"
