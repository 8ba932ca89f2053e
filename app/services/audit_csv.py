"""The audit trail as CSV, for an investigator's spreadsheet: the GUI's Save CSV and
`GET /api/v1/audit?format=csv` write the same text.

WHY the quote before `=`, `+`, `-`, `@` (and tab, carriage return): a cell a spreadsheet reads
as a formula runs when the file is opened (CSV injection). An entry's target and detail carry
names a client chose (a source called `=HYPERLINK(...)`), so every cell that starts with one
of them is prefixed with `'`, which spreadsheets show as text and do not evaluate.
"""

from __future__ import annotations

import csv
import io
from typing import Iterable

from app.services.audit import AuditEntryOut

COLUMNS = ("time_utc", "dialect", "address", "who", "action", "target", "result", "detail",
           "source_ids", "id")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """`value` as text a spreadsheet shows and never evaluates."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def row_of(entry: AuditEntryOut) -> list[str]:
    values = (entry.time, entry.dialect, entry.address, entry.who, entry.action, entry.target,
              entry.result, entry.detail, " ".join(str(i) for i in entry.source_ids), entry.id)
    return [safe_cell(v) for v in values]


def to_csv(entries: Iterable[AuditEntryOut]) -> str:
    """A header line, then one line per entry (newest first as given); CRLF line ends as
    RFC 4180 has them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow(row_of(entry))
    return out.getvalue()
