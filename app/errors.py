"""Domain exceptions raised by the services.

Each front end translates them into its own shape (a dialog in the GUI, a 404/422 in the
native API, an errorCode in Device Connect ...), so they carry the offending field's name.
"""

from __future__ import annotations


class StationError(Exception):
    """Base of every error a service raises on purpose."""

    def __init__(self, message: str, *, field: str | None = None, kind: str = "value_error"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.kind = kind


class NotFound(StationError):
    """The id or name does not exist."""

    def __init__(self, what: str, key: object, *, field: str | None = None):
        super().__init__(f"{what} {key!s} not found", field=field, kind="not_found")
        self.what = what
        self.key = key


class InvalidInput(StationError):
    """The request is well-formed but its value is not acceptable (bad URI, unknown option)."""


class Conflict(StationError):
    """The request clashes with the current state (duplicate name, source still recording)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message, field=field, kind="conflict")


class StorageFull(StationError):
    """Free disk space is under the configured floor: refusing to start a recording."""

    def __init__(self, message: str):
        super().__init__(message, kind="storage_full")


class Unavailable(StationError):
    """Something this request needs cannot be reached now: the catalog's database server, or
    the station that owns a source. Worth retrying; the native API answers 503."""

    def __init__(self, message: str):
        super().__init__(message, kind="unavailable")
