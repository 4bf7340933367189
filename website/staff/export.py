"""Records as staff may see them: the JSON API's dicts and the CSV export.

Why it is built this way:
- A conversation id is the visitor's capability (issue 12): it is replaced by its keyed reference
  (haven/services/references.py) in every record that leaves the server, here and only here.
- A CSV opens in a spreadsheet, which runs a cell that looks like a formula: such cells get a
  leading apostrophe (OWASP CSV injection), fullwidth look-alikes included.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import unicodedata
from datetime import datetime
from typing import Any, Dict

from haven.services import references
from website.staff.data import KINDS

#: Cells a spreadsheet would run as a formula; such cells get a leading apostrophe in CSV exports.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", ";")


def csv_cell(value: Any) -> str:
    """One CSV cell as text; formula-looking text is defused for spreadsheets (OWASP CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.isoformat()
    else:
        text = str(value)
    # NFKC folds the fullwidth ＝＋－＠ (and other compatibility forms) into what a spreadsheet may
    # read as a formula; a leading `;`, tab or newline before one is skipped by some importers.
    folded = unicodedata.normalize("NFKC", text).lstrip(" \n\r\t;")
    if text.startswith(_FORMULA_STARTS) or folded.startswith(_FORMULA_STARTS[:4]):
        text = "'" + text
    return text


def public_columns(kind: str) -> list:
    """The record's fields as staff see them: `conversation_ref` where the record has `conversation_id`."""
    names = [f.name for f in dataclasses.fields(KINDS[kind][1])]
    return [name for name in names if name != "conversation_id"] + (
        ["conversation_ref"] if "conversation_id" in names else []
    )


def public_dict(record: Any, key: str) -> Dict[str, Any]:
    """A record for staff: JSON-ready, the conversation id replaced by its reference (issue 12)."""
    data = record.to_dict()
    if "conversation_id" in data:
        ref = references.conversation_reference(data["conversation_id"], key)
        data = {k: v for k, v in data.items() if k != "conversation_id"} | {"conversation_ref": ref}
    return data


def render_csv(kind: str, records: list, key: str) -> str:
    """The whole export of one kind, header row first, CRLF line ends (what spreadsheets expect)."""
    columns = public_columns(kind)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        values = public_dict(record, key)
        writer.writerow([csv_cell(values[column]) for column in columns])
    return buffer.getvalue()
