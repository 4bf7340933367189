"""A quiet start: third-party deprecation warnings off in Haven's servers (issue 14.7).

Rasa 3.6's dependencies (pyparsing, pkg_resources, Sanic 21, SQLAlchemy 1.4, click, distutils) print
about forty deprecation warnings at every start; nobody running Haven can act on them, and they bury
the lines that matter. The launcher sets PYTHONWARNINGS=ignore::DeprecationWarning for its servers,
but Sanic 21.12 puts `filterwarnings("once", category=DeprecationWarning)` in front of it when
`sanic.app` is imported, so each server entry point calls `quiet_deprecation_warnings()` first: it
imports Sanic, then puts the ignore filter back in front.

Only when PYTHONWARNINGS asks for it (the launcher's default, which an operator can replace, e.g.
PYTHONWARNINGS=default); `make test` and whoever upgrades the lock still see every warning.
"""

from __future__ import annotations

import sys
import warnings
from typing import Optional, Sequence

QUIET = "ignore::DeprecationWarning"


def quiet_deprecation_warnings(warnoptions: Optional[Sequence[str]] = None) -> bool:
    """Ignores DeprecationWarning (and its subclasses) from here on when the interpreter's warning
    options (`sys.warnoptions`: PYTHONWARNINGS and -W) ask for it; True when it did."""
    if QUIET not in (sys.warnoptions if warnoptions is None else warnoptions):
        return False
    import sanic.app  # noqa: F401  (its import adds the "once" filter this one must come after)

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    return True


def keep_quiet_after_rasa() -> None:
    """Rasa 3.6 configures warnings as it starts (rasa.utils.common._filter_warnings) and puts
    `filterwarnings("once", category=UserWarning)` in front; pyparsing's deprecation warnings are
    UserWarnings too, so they came back. Wraps that function to put the ignore filter in front
    again after it. Listed with the other patches of Rasa internals in haven/plugins/rasa_server.py."""
    from rasa.utils import common

    original = common._filter_warnings
    if getattr(original, "haven_quiet", False):
        return

    def _filter_warnings(*args, **kwargs):
        original(*args, **kwargs)
        warnings.filterwarnings("ignore", category=DeprecationWarning)

    _filter_warnings.haven_quiet = True
    common._filter_warnings = _filter_warnings
