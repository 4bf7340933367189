"""Secrets only ever come from the environment: no key, token or password is written into the
repository (tests excepted: their tokens are made up), and only haven/settings.py reads settings."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

from haven.settings import ROOT

SKIP_DIRS = {".git", ".venv", "build", "models", "var", "test-artifacts", "results", "node_modules"}
SKIP_DIRS |= {"__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".rasa"}
# Tests hold made-up tokens on purpose; the lock file holds package names and versions only.
EXEMPT = ("tests/", "requirements/lock.txt")

PATTERNS = {
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{40,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"),
    "Stripe or OpenAI key": re.compile(r"\b(?:sk|rk)_live_[A-Za-z0-9]{16,}|\bsk-[A-Za-z0-9]{32,}"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),
    # token = "…", "password": '…' (a literal in code or JSON, not a ${VARIABLE} or a placeholder)
    "quoted secret": re.compile(
        r"(?i)\b[a-z_]*(?:password|passwd|secret|token|api_?key)[a-z_]*[\"']?\s*[:=]\s*[\"']"
        r"(?!\$\{|<|your|change|example)[A-Za-z0-9+/_.~-]{12,}[\"']"
    ),
    # RASA_AUTH_TOKEN=… in a shell or .env file, smtp_password: … in YAML: the whole line is the value
    "secret setting": re.compile(
        r"(?i)^\s*(?:export\s+)?[a-z_]*(?:password|passwd|secret|token|api_?key)[a-z_]*\s*[:=]\s*"
        r"(?!\$\{|<|your|change|example|none|null|true|false)(?![A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\s*$)"
        r"[A-Za-z0-9+/_.~-]{8,}\s*$"
    ),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?!\$\{|<)[^/\s:@'\"]{3,}@"),
}


def repository_files() -> List[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout.decode()
        files = [ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        files = [p for p in ROOT.rglob("*") if p.is_file() and not SKIP_DIRS & set(p.relative_to(ROOT).parts)]
    return [f for f in files if f.is_file()]


def findings(path: Path) -> Iterator[Tuple[str, int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return
    for number, line in enumerate(text.splitlines(), 1):
        for name, pattern in PATTERNS.items():
            if pattern.search(line):
                yield name, number, line.strip()[:120]


def test_no_secret_is_written_into_the_repository() -> None:
    files = [f for f in repository_files() if not f.relative_to(ROOT).as_posix().startswith(EXEMPT)]
    assert len(files) > 50, "the scan must see the repository"
    found = [f"{f.relative_to(ROOT)}:{n}: {name}: {line}" for f in files for name, n, line in findings(f)]
    assert found == [], (
        "hard-coded secrets (read them from the environment in haven/settings.py):\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    "line",
    [
        "-----BEGIN RSA PRIVATE KEY-----",
        "aws_key = AKIAABCDEFGHIJKLMNOP",
        'token = "ghp_' + "a1" * 20 + '"',
        'HAVEN_STAFF_TOKEN="k3v9Qm2xLr8TzW4p"',
        "smtp_password: hunter2hunter2hunter2",
        "DATABASE_URL=postgresql://haven:s3cretpw@db.internal/haven",
        "Authorization: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9",
    ],
)
def test_the_scan_finds_secrets_when_there_are_some(tmp_path, line) -> None:
    sample = tmp_path / "sample.txt"
    sample.write_text(f"harmless\n{line}\n")
    assert list(findings(sample)), line


@pytest.mark.parametrize(
    "line",
    [
        "url: ${HAVEN_ACTION_URL}",
        "staff_token: Optional[str] = field(default=None, repr=False)",
        "rasa_auth_token=_optional(env, 'RASA_AUTH_TOKEN'),",
        "| `HAVEN_STAFF_TOKEN` | unset: the staff inbox refuses everyone |",
        "DATABASE_URL=postgresql://user@host/db",
        "token = _action_failed.set(failed)",
        "token = settings.rasa_auth_token or secrets.token_urlsafe(32)",
        'session.put(url, params={"token": settings.rasa_api_token}, json=[])',
        "HAVEN_STAFF_TOKEN=${HAVEN_STAFF_TOKEN}",
        "    token = request.app.ctx.settings.staff_token",
    ],
)
def test_the_scan_leaves_settings_code_and_docs_alone(tmp_path, line) -> None:
    sample = tmp_path / "sample.txt"
    sample.write_text(line + "\n")
    assert not list(findings(sample)), line


# settings.py reads the settings; haven/ops/processes.py and the three measuring scripts (which start servers
# the way the launcher does, or `make run` itself) only pass the environment on to the processes they start.
ENVIRONMENT_READERS = {
    "haven/settings.py",
    "haven/ops/processes.py",
    "scripts/bench.py",
    "scripts/bench_first_run.py",
    "scripts/profile_turn.py",
}


def test_only_haven_settings_reads_the_environment() -> None:
    readers = []
    for path in repository_files():
        relative = path.relative_to(ROOT).as_posix()
        if (
            path.suffix != ".py"
            or relative.startswith(("tests/", "migrations/"))
            or relative in ENVIRONMENT_READERS
        ):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                readers.append(f"{relative}:{node.lineno}")
            if isinstance(node, ast.ImportFrom) and node.module == "os":
                if any(alias.name in ("environ", "getenv") for alias in node.names):
                    readers.append(f"{relative}:{node.lineno}")
    assert readers == [], f"read settings through haven/settings.py, not the environment: {readers}"
