"""Haven's YAML files read with libyaml's C parser when PyYAML has it.

`loads`/`read`: the same safe subset as `yaml.safe_load`, about ten times faster: the content, copy
and FAQ files are read at every server start and again on requests that must see the therapist's
edits without a restart. Errors are PyYAML's own (`yaml.YAMLError`), as before.

`loads_12`/`read_12`: the same parser with the YAML 1.2 core schema's plain scalars, for files whose
words must stay words. PyYAML resolves YAML 1.1, where `on`, `off`, `yes` and `no` are booleans; the
crisis patterns list `on` and `off` as words to match ("get off", "hands on me"), and Rasa's own
reader (ruamel.yaml, YAML 1.2) keeps them strings. Rasa's pure-Python reader costs 0.8 s for the
pattern folder on every start of the Rasa server and of training; this one 0.06 s. What it resolves:
null (`~`, `null`, empty), `true`/`false`, decimal, `0o` and `0x` integers and decimal floats with
`.inf`/`.nan`; everything else is a string. ruamel also reads timestamps, `0b` and `1_000`
numbers and a leading-zero `010` as ten: the pattern files use none of them, and
tests/test_crisis_detector.py checks that both readers give the same patterns.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class _Core12Loader(_Loader):  # type: ignore[valid-type,misc]
    """The safe loader with the YAML 1.2 core schema's implicit resolvers instead of 1.1's."""

    yaml_implicit_resolvers: dict = {}


for _tag, _pattern, _first in (
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+0123456789."),
    ),
):
    _Core12Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), _first)


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    value = loader.construct_scalar(node)
    if value.startswith("0o"):
        return int(value[2:], 8)
    return int(value, 16) if value.startswith("0x") else int(value, 10)


_Core12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def loads(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader


def read(path: Path) -> Any:
    return loads(Path(path).read_text(encoding="utf-8"))


def loads_12(text: str) -> Any:
    return yaml.load(text, Loader=_Core12Loader)  # noqa: S506 - a safe loader


def read_12(path: Path) -> Any:
    return loads_12(Path(path).read_text(encoding="utf-8"))
