"""The event kinds a station knows, each with its default severity and whether an event of
it lasts (opened, then closed) or is a moment (`instant`, begin = end). A kind not listed
here is refused (`EventService` checks it), so a typo never becomes a kind of its own;
another part of the station adds a kind with `register`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.errors import InvalidInput
from app.schemas import EventSeverity

NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class Kind:
    name: str
    severity: EventSeverity
    lasting: bool  # opened and closed later (camera lost, motion), else a moment
    about: str


KINDS: dict[str, Kind] = {}


def register(name: str, severity: EventSeverity, *, lasting: bool, about: str) -> Kind:
    """Add a kind (idempotent for the same definition)."""
    if not NAME.match(name):
        raise ValueError(f"an event kind is a lower-case name of up to 32 characters: {name!r}")
    kind = Kind(name, EventSeverity(severity), lasting, about)
    if KINDS.setdefault(name, kind) != kind:
        raise ValueError(f"event kind {name!r} is registered already, differently")
    return kind


def kind_of(name: str, field: str = "kind") -> Kind:
    """The registered kind `name`, else an InvalidInput on `field` listing the known ones."""
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise InvalidInput(f"unknown event kind; one of {', '.join(sorted(KINDS))}",
                           field=field)
    return kind


register("camera_lost", EventSeverity.alarm, lasting=True,
         about="no packet from the camera for 2 s while recording (5 s while idle)")
register("camera_back", EventSeverity.info, lasting=False,
         about="packets flow again after camera_lost (which it closes)")
register("recording_started", EventSeverity.info, lasting=False,
         about="a recording started under a tag")
register("recording_stopped", EventSeverity.info, lasting=False,
         about="a recording stopped")
register("recording_failed", EventSeverity.alarm, lasting=False,
         about="a recording ended by a failure (the disk, the file, the storage guard)")
register("disk_low", EventSeverity.alarm, lasting=False,
         about="the storage guard stopped recordings: the disk is under its floor")
register("retention_deleted", EventSeverity.info, lasting=False,
         about="retention deleted record files (age, size, disk floor)")
register("motion", EventSeverity.warning, lasting=True,
         about="motion seen on a source (open while it lasts)")
register("constant_motion", EventSeverity.warning, lasting=False,
         about="a source in motion for more than its constant-motion share of the last hour "
               "(a spider web, rain or a moving tree?): raised once, not per motion")
register("bookmark", EventSeverity.info, lasting=False,
         about="an operator marked a moment of a source")
