"""Changing the station's settings: one operation for every front end.

An operator's change of settings is four steps that must never drift apart: check the
values, write them to the config file, take over on the running station what it can take
over at once, and leave an entry in the audit trail. The GUI's settings dialog calls
`SettingsService.change`, and an API route would call the same, so a change reads, applies
and audits the same whoever makes it.

Which fields wait for a restart is decided by `LiveSettings.take` (`RESTART_FIELDS`): this
service only reports them. The audit entry names the changed settings, never their values
(a token, a secret key).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.errors import InvalidInput
from app.services.audit import AuditService, action_name
from app.settings import (
    RESTART_FIELDS,
    LiveSettings,
    Settings,
    default_config_file,
    save_settings,
)

ACTION = action_name("save settings")  # of the audit vocabulary


class SettingsRefused(InvalidInput):
    """One or more values are not acceptable; `problems` maps each field to why. Nothing was
    written and nothing changed."""

    def __init__(self, problems: dict[str, str]):
        first, message = next(iter(problems.items()))
        super().__init__(message, field=first or None)
        self.problems = problems


@dataclass(frozen=True)
class SettingsChanged:
    """What a change did: the settings the config file now gives, the fields the running
    station took over, and the fields saved that wait for a restart."""

    saved: Settings
    applied: frozenset[str]
    restart: frozenset[str]


class SettingsService:
    def __init__(self, live: LiveSettings, audit: AuditService, *,
                 config_file: Path | None = None):
        """`live`: the running station's settings; `config_file`: where changes are written
        (None: the platform's config file, or `RS_CONFIG_FILE`, read at each change)."""
        self.live, self.audit = live, audit
        self.config_file = config_file
        self._lock = threading.Lock()  # one change at a time: each builds on the last saved
        # What the next change builds on: the last saved settings (restart fields included,
        # which the running station keeps until it restarts).
        self._saved = live.current

    def change(self, changes: Mapping[str, Any], actor: Mapping[str, str]) -> SettingsChanged:
        """Check `changes` (field → value; None removes the key so the default applies
        again) on top of the last saved settings, write them to the config file, apply what
        the running station can take now and audit the change as `actor` (`dialect`,
        `address`, `who`). Raises `SettingsRefused` (nothing written, audited as refused) or
        OSError when the file cannot be written."""
        path = self.config_file or default_config_file()
        with self._lock:
            try:
                saved = save_settings(self._saved, changes, path)
            except ValidationError as exc:
                refused = SettingsRefused(problems_of(exc))
                self._audit(actor, changes, f"failed: {refused.kind}")
                raise refused from None
            except OSError as exc:
                self._audit(actor, changes, f"failed: {type(exc).__name__}")
                raise
            self._saved = saved
            # What waits for a restart: this change's restart fields, and those saved
            # earlier that the running station still runs without.
            restart = self.live.take(saved) | (set(changes) & RESTART_FIELDS)
        self._audit(actor, changes, "ok" if changes else "no change")
        return SettingsChanged(saved, frozenset(set(changes) - restart), frozenset(restart))

    def _audit(self, actor: Mapping[str, str], changes: Mapping[str, Any], result: str) -> None:
        names = ", ".join(sorted(changes))
        self.audit.record(dialect=actor.get("dialect", "unknown"),
                          address=actor.get("address", "unknown"),
                          who=actor.get("who", "unknown"), action=ACTION,
                          target=f"settings {names}" if names else None, result=result)


def problems_of(exc: ValidationError) -> dict[str, str]:
    """Each refused field and why, in the words the settings model gives (never the value)."""
    problems: dict[str, str] = {}
    for item in exc.errors():
        key = str(item["loc"][0]) if item["loc"] else ""
        problems.setdefault(key, item["msg"].removeprefix("Value error, ").capitalize())
    return problems
