"""Turning an error into the text a dialog, a status line or a form shows: the one place the
GUI decides it (it once had eight copies of the same line in its panels and dialogs).

A service's domain error (`app.errors.StationError`) says what went wrong in words meant for
the operator, so its message is shown as it is; anything else (an OSError from a file, a
library's error) shows its own text. For a form, the field the error names is dropped from
the front of the text, since the form shows it beside that very field.
"""

from __future__ import annotations

from app.errors import StationError


def error_text(error: BaseException, field: str | None = None) -> str:
    """The operator's text for `error`; with `field`, without the "field: " it may begin with."""
    text = error.message if isinstance(error, StationError) else str(error)
    return text.removeprefix(f"{field}: ") if field else text
