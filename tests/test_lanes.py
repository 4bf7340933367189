"""The test lanes stay honest (`make test-unit` deselects `model`, `e2e`, `browser` and `slow`).

A static scan of every test module: a test that uses the live servers, a throwaway PostgreSQL or Redis,
Chromium, or the trained model must carry that lane's marker, on itself, its class or its module
(`pytestmark`), so a new test cannot slip a trained model or a server into the unit lane. What a test
uses is read from its own source, the source of the fixtures it asks for (the module's own, those it
imports from another test module, and the conftest files') and of the module's helpers and constants
they name, and theirs in turn. Fast to run: no test module is imported.

Not seen by the scan, so marked by hand: a `processes.Stack` a test starts itself (the scan cannot tell
a started stack from one refused before it starts) and tests slow for other reasons.
"""

from __future__ import annotations

import ast
import functools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest

from haven.settings import ROOT

TESTS = ROOT / "tests"
LANES = ("model", "e2e", "browser", "slow")

# Source that means a lane: (marker, pattern, what it is).
NEEDS: List[Tuple[str, "re.Pattern[str]", str]] = [
    ("model", re.compile(r"\blive_haven\b"), "the live servers (they serve models/haven.tar.gz)"),
    ("model", re.compile(r"""ROOT\s*/\s*["']models["']"""), "the trained model in models/"),
    (
        "model",
        re.compile(r"\bload_agent\(|\bevaluation\.evaluate\(|\bevaluate_faq\(|\btrained_agent\b"),
        "the trained model",
    ),
    ("e2e", re.compile(r"\blive_haven\b"), "Haven's servers on free ports"),
    ("e2e", re.compile(r"""["']-m["'],\s*["'](haven\.launcher|website)["']"""), "a server process"),
    (
        "e2e",
        re.compile(r"\bThrowaway(Postgres|Redis)\b|\bredis_server\b|\bpostgres_admin_url\b"),
        "a throwaway PostgreSQL or Redis server",
    ),
    ("browser", re.compile(r"\bplaywright\b|\bsync_playwright\b"), "Chromium through Playwright"),
    (
        "slow",
        re.compile(r"\btrain_nlu\(|\btrain_core\(|[\"']rasa[\"'],\s*[\"']test[\"']"),
        "Rasa training or `rasa test`",
    ),
]


@dataclass
class Function:
    name: str
    source: str
    params: List[str]
    marks: Set[str] = field(default_factory=set)
    # pytest.param(..., marks=...) inside a fixture's params=[...]: the marks some of its params carry
    param_marks: Set[str] = field(default_factory=set)


@dataclass
class Module:
    path: Path
    marks: Set[str]
    fixtures: Dict[str, Function]
    tests: List[Function]
    imported: Dict[str, str]  # fixture-like names imported from other test modules -> module path
    names: Dict[str, str]  # the module's other top-level definitions (helpers, constants) -> their source


def _marks(node: ast.AST) -> Set[str]:
    """Every `pytest.mark.<name>` inside an expression (a decorator, a list, a pytestmark)."""
    found = set()
    for sub in ast.walk(node):
        is_mark = isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute)
        if is_mark and sub.value.attr == "mark":
            found.add(sub.attr)
    return found & set(LANES)


def _is_fixture(node: ast.FunctionDef) -> bool:
    return any("fixture" in ast.unparse(d).split("(")[0] for d in node.decorator_list)


def _function(node: ast.FunctionDef, lines: List[str], outer: Set[str]) -> Function:
    params = [a.arg for a in node.args.args + node.args.kwonlyargs]
    marks = set(outer)
    param_marks: Set[str] = set()
    for decorator in node.decorator_list:
        if "fixture" in ast.unparse(decorator).split("(")[0]:
            param_marks |= _marks(decorator)
        elif "parametrize" in ast.unparse(decorator).split("(")[0]:
            pass  # marks on single parameters select those cases; they do not mark the whole test
        else:
            marks |= _marks(decorator)
    return Function(node.name, _source(lines, node), params, marks, param_marks)


def _source(lines: List[str], node: ast.AST) -> str:
    """The whole lines a node spans (`ast.get_source_segment` splits the file again on every call)."""
    return "".join(lines[node.lineno - 1 : node.end_lineno])


def _parse(path: Path) -> Module:
    return _parsed(path, *_version(path))


def _version(path: Path) -> Tuple[int, int]:
    status = path.stat()
    return status.st_mtime_ns, status.st_size


@functools.cache
def _parsed(path: Path, _mtime_ns: int, _size: int) -> Module:
    """One parse per version of a file: the scan's tests share it."""
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    tree = ast.parse(text)
    module_marks: Set[str] = set()
    fixtures: Dict[str, Function] = {}
    tests: List[Function] = []
    imported: Dict[str, str] = {}
    names: Dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            module_marks |= _marks(node.value)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests."):
            target = ROOT / (node.module.replace(".", "/") + ".py")
            for alias in node.names:
                imported[alias.asname or alias.name] = str(target)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and not (
            node.name.startswith("test") or _is_fixture(node)
        ):
            names[node.name] = _source(lines, node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name) and target.id != "pytestmark":
                    names[target.id] = _source(lines, node)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = _function(node, lines, module_marks)
            if _is_fixture(node):
                fixtures[node.name] = function
            elif node.name.startswith("test"):
                tests.append(function)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            class_marks = module_marks | set().union(*(_marks(d) for d in node.decorator_list))
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    function = _function(item, lines, class_marks)
                    if _is_fixture(item):
                        fixtures[item.name] = function
                    elif item.name.startswith("test"):
                        tests.append(function)
    return Module(path, module_marks, fixtures, tests, imported, names)


def _modules() -> Dict[Path, Module]:
    return {path: _parse(path) for path in sorted(TESTS.rglob("*.py")) if "node_modules" not in path.parts}


def _conftests(path: Path, modules: Dict[Path, Module]) -> List[Module]:
    """The conftest modules that apply to a test module, nearest first."""
    found = []
    folder = path.parent
    while folder == TESTS or TESTS in folder.parents:
        conftest = folder / "conftest.py"
        if conftest in modules:
            found.append(modules[conftest])
        if folder == TESTS:
            break
        folder = folder.parent
    return found


def _fixture(name: str, module: Module, modules: Dict[Path, Module]) -> Tuple[Function, Module] | None:
    if name in module.fixtures:
        return module.fixtures[name], module
    if name in module.imported and Path(module.imported[name]) in modules:
        other = modules[Path(module.imported[name])]
        if name in other.fixtures:
            return other.fixtures[name], other
    for conftest in _conftests(module.path, modules):
        if name in conftest.fixtures:
            return conftest.fixtures[name], conftest
    return None


def _closure(test: Function, module: Module, modules: Dict[Path, Module]) -> List[Function]:
    """The test, every fixture it asks for (directly or through other fixtures), and the module's
    helpers and constants any of them names, with theirs in turn."""
    seen: Set[Tuple[Path, str]] = set()
    found: List[Function] = []
    todo: List[Tuple[Function, Module]] = [(test, module)]
    while todo:
        function, owner = todo.pop()
        found.append(function)
        words = set(re.findall(r"\b\w+\b", function.source))
        for name in function.params + re.findall(r"getfixturevalue\(\s*[\"'](\w+)", function.source):
            fixture = _fixture(name, owner, modules)
            if fixture and (fixture[1].path, name) not in seen:
                seen.add((fixture[1].path, name))
                todo.append(fixture)
        for name in sorted(words & set(owner.names)):
            if (owner.path, name) not in seen:
                seen.add((owner.path, name))
                todo.append((Function(name, owner.names[name], []), owner))
    return found


def _needs(source: str) -> Dict[str, str]:
    needs: Dict[str, str] = {}
    for lane, pattern, what in NEEDS:
        if pattern.search(source):
            needs.setdefault(lane, what)
    return needs


def _unmarked() -> Iterator[str]:
    modules = _modules()
    for path, module in modules.items():
        if not path.name.startswith("test_") or path.name == "test_lanes.py":
            continue
        for test in module.tests:
            used = _closure(test, module, modules)
            # A fixture whose parameters carry a lane's marker (pytest.param(..., marks=...)) marks only
            # the cases that need it, e.g. tests/db's PostgreSQL variants.
            have = test.marks.union(*(function.param_marks for function in used))
            for function in used:
                for lane, what in _needs(function.source).items():
                    if lane not in have:
                        where = "" if function is test else f" (through {function.name})"
                        yield f"{path.relative_to(ROOT)}::{test.name} uses {what}{where}: mark it `{lane}`"


def test_every_test_that_needs_a_lane_carries_its_marker() -> None:
    problems = sorted(set(_unmarked()))
    assert not problems, "\n".join(problems)


def test_the_scan_sees_the_tests_it_must_see() -> None:
    """The scan itself: it finds the live servers, the model, the browser and the databases where
    they are known to be, so a change to how tests are written cannot blind it."""
    modules = _modules()
    seen: Dict[str, Set[str]] = {lane: set() for lane in LANES}
    for path, module in modules.items():
        for test in module.tests:
            for function in _closure(test, module, modules):
                for lane in _needs(function.source):
                    seen[lane].add(path.name)
    assert {"test_e2e.py", "test_widget.py", "test_nlu_eval.py", "test_crisis_model.py"} <= seen["model"]
    assert {"test_e2e.py", "test_scale_out.py", "test_lock_store.py", "test_db_repository.py"} <= seen["e2e"]
    assert {"test_widget.py", "test_staff_browser.py", "test_widget_keys.py"} <= seen["browser"]
    assert "test_crisis_detector.py" in seen["slow"]


def test_the_lane_markers_are_registered() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    registered = {line.split(":")[0] for line in config["markers"]}
    assert set(LANES) <= registered
    assert "--strict-markers" in config["addopts"]


def test_make_test_unit_deselects_every_lane_and_make_test_none() -> None:
    makefile = (ROOT / "Makefile").read_text()
    unit = re.search(r"^test-unit:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert unit, "no test-unit target in the Makefile"
    selection = re.search(r'-m "([^"]+)"', unit.group(1))
    assert selection and selection.group(1) == " and ".join(f"not {lane}" for lane in LANES)
    whole = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert whole and "pytest" in whole.group(1) and not re.search(r"pytest.* -m ['\"]", whole.group(1))


@pytest.mark.parametrize("lane", LANES)
def test_the_scan_catches_an_unmarked_test(lane, tmp_path, monkeypatch) -> None:
    """A new unmarked test of each kind is reported; marked, it is not."""
    body = {
        "model": "def test_x(live_haven):\n    pass\n",
        "e2e": "def test_x(redis_server):\n    pass\n",
        "browser": "def test_x():\n    from playwright.sync_api import sync_playwright\n",
        "slow": "def test_x():\n    train_nlu('config.yml', 'nlu.yml', 'models')\n",
    }[lane]
    monkeypatch.setattr(f"{__name__}.TESTS", tmp_path)
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "conftest.py").write_text(
        "import pytest\n@pytest.fixture\ndef live_haven():\n    pass\n"
        "@pytest.fixture\ndef redis_server():\n    ThrowawayRedis\n"
    )
    (tmp_path / "test_new.py").write_text(body)
    assert any(f"mark it `{lane}`" in problem for problem in _unmarked())
    marks = ", ".join(f"pytest.mark.{name}" for name in LANES)
    (tmp_path / "test_new.py").write_text(f"import pytest\npytestmark = [{marks}]\n{body}")
    assert not list(_unmarked())
