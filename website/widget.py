"""The chat widget's script, served with its reviewed words and the default crisis numbers.

`website/static/haven-widget.js` is what a site includes: a small entry that loads the widget's
modules (`website/static/haven-widget/*.js`, plain static files, one per concern) and starts them.
They hold code only. Its words are in `content/widget.yml` (reviewed data, per locale), and the
crisis numbers in `safety/hotlines.yml`. When the website server serves the entry it puts both in
place of the `/* haven:data */ null` marker, as one JSON value:

    {"copy": {locale: {key: text}}, "default_locale": "en",
     "crisis": <the default region's resources, as GET /api/crisis-resources gives them>,
     "explanations": [topic ids answered from the article, from content/topics.yml]}

Only the entry carries the data (the modules are served as they are), so there is no build step and
no inline script (the CSP forbids it), and the widget has its words and the crisis numbers whenever
it has its code: when the Rasa server cannot be reached, or the region lookup fails, it still shows
them. The script is built once, when the app is created: a malformed widget.yml stops the server
from starting instead of reaching a visitor.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Set

import yaml

from haven import yaml_files
from haven.services import content, safety
from haven.settings import ROOT, Settings

COPY_FILE = "widget.yml"
SCRIPT = ROOT / "website" / "static" / "haven-widget.js"
MODULES = SCRIPT.with_suffix("")  # website/static/haven-widget/, the folder the entry loads from
MARKER = "/* haven:data */ null"
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
PLACEHOLDER_NAME = re.compile(r"^[a-z_]+$")
LOCALE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})*$")


class WidgetCopyError(ValueError):
    """content/widget.yml is malformed; the message names the file, the locale and the key."""


@dataclass(frozen=True)
class WidgetCopy:
    default_locale: str
    locales: Mapping[str, Mapping[str, str]]
    review: Mapping[str, str]

    @property
    def keys(self) -> Set[str]:
        return set(self.locales[self.default_locale])


def placeholders(text: str) -> Set[str]:
    return set(PLACEHOLDER.findall(text))


def load_copy(content_dir: Path) -> WidgetCopy:
    path = Path(content_dir) / COPY_FILE
    try:
        raw = yaml_files.read(path)
    except (OSError, yaml.YAMLError) as error:
        raise WidgetCopyError(f"{path}: cannot be read: {error}") from error
    if not isinstance(raw, Mapping):
        raise WidgetCopyError(f"{path}: must be a mapping")
    review = raw.get("review")
    if not isinstance(review, Mapping) or not all(review.get(k) for k in ("reviewed_by", "date", "version")):
        raise WidgetCopyError(f"{path}: 'review' needs reviewed_by, date and version")
    locales = raw.get("locales")
    default = raw.get("default_locale")
    if not isinstance(locales, Mapping) or default not in locales:
        raise WidgetCopyError(f"{path}: 'locales' must be a mapping that includes default_locale {default!r}")
    checked: Dict[str, Dict[str, str]] = {}
    for locale, strings in locales.items():
        where = f"{path}: locale {locale!r}"
        if not isinstance(locale, str) or not LOCALE.match(locale):
            raise WidgetCopyError(f"{where}: locale names are lower case, like 'en' or 'en-gb'")
        if not isinstance(strings, Mapping) or not strings:
            raise WidgetCopyError(f"{where}: must map keys to text")
        checked[locale] = {}
        for key, text in strings.items():
            if not isinstance(text, str) or not text.strip():
                raise WidgetCopyError(f"{where}: {key!r} must be non-empty text")
            bad = [name for name in placeholders(text) if not PLACEHOLDER_NAME.match(name)]
            if bad or text.count("{") != text.count("}"):
                raise WidgetCopyError(f"{where}: {key!r} has a malformed placeholder: {text!r}")
            checked[locale][str(key)] = " ".join(text.split())
    base = checked[default]
    for locale, strings in checked.items():
        unknown = sorted(set(strings) - set(base))
        if unknown:
            raise WidgetCopyError(f"{path}: locale {locale!r}: keys {unknown} are not in {default!r}")
        for key, text in strings.items():
            if placeholders(text) != placeholders(base[key]):
                raise WidgetCopyError(
                    f"{path}: locale {locale!r}: {key!r} must keep the placeholders of {default!r}: "
                    f"{sorted(placeholders(base[key]))}"
                )
    return WidgetCopy(default_locale=default, locales=checked, review={k: str(v) for k, v in review.items()})


def widget_data(settings: Settings) -> Dict[str, Any]:
    copy = load_copy(settings.content_dir)
    crisis = safety.load()
    return {
        "copy": copy.locales,
        "default_locale": copy.default_locale,
        "crisis": crisis.region_resources(settings.region).as_json(),
        "explanations": sorted(content.load(settings.content_dir).topics),
    }


def sources() -> List[Path]:
    """Every file of the widget's code: the entry, then its modules. What reads the widget's source
    for a check (no words of its own, every copy key used) reads all of them."""
    return [SCRIPT, *sorted(MODULES.glob("*.js"))]


def build_script(settings: Settings, source: Path = SCRIPT) -> str:
    """The widget's code with its data in place of the marker (exactly one marker, or an error)."""
    code = source.read_text(encoding="utf-8")
    if code.count(MARKER) != 1:
        raise WidgetCopyError(f"{source}: must contain the marker {MARKER!r} exactly once")
    # ASCII-only JSON is a valid JavaScript expression whatever charset the page assumes.
    data = json.dumps(widget_data(settings), ensure_ascii=True, sort_keys=True)
    return code.replace(MARKER, data)
