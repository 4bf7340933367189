"""The outside JavaScript clients the tests drive (tests/js/package.json, installed by
`scripts/bootstrap.sh --system-test-deps` with npm ci): a stock socket.io-client, botfront's
rasa-webchat, axe-core.  Missing node or packages skip a test with the reason, and fail it in CI
(HAVEN_REQUIRE_JS_CLIENTS=1, set by .ci/run) so a broken install cannot pass as skipped."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

JS_DIR = Path(__file__).resolve().parent / "js"
NODE_MODULES = JS_DIR / "node_modules"


def node() -> str:
    """The node executable, or skip/fail."""
    path = shutil.which("node")
    if path is None:
        _unavailable("node is not installed")
    return path


def package(name: str) -> Path:
    """The installed folder of an npm package from tests/js/package.json, or skip/fail."""
    folder = NODE_MODULES / name
    if not (folder / "package.json").is_file():
        _unavailable(
            f"npm package {name!r} is not installed in {NODE_MODULES} (bootstrap --system-test-deps)"
        )
    return folder


def _unavailable(reason: str) -> None:
    if os.environ.get("HAVEN_REQUIRE_JS_CLIENTS") == "1":
        pytest.fail(reason + " (HAVEN_REQUIRE_JS_CLIENTS=1)")
    pytest.skip(reason)
