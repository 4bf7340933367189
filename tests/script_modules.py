"""The development scripts under scripts/ loaded as modules, for tests of their arithmetic and text handling.

Why a loader: scripts/ is not a package (each file is run as `python scripts/<name>.py` by the Makefile),
so a test imports one by its path."""

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def load(name: str) -> ModuleType:
    """scripts/<name>.py as a module named `name`."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    # Registered before it runs: dataclasses look their module up in sys.modules (scripts/bench.py).
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
