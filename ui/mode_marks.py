"""How the GUI marks what records by itself (the sources tree and the Recordings tab, two rooms
that may not import each other, both use it): a source whose mode is not `manual` gets a small
"● continuous" (motion, schedule) beside its name in the sources tree, and a record under the
tag its source's mode records under is shown as the mode's in the Recordings table. The tag a
mode uses is the core's rule (app.record_modes.tag_for); here it is only asked."""

from __future__ import annotations

from app.record_modes import RecordMode, SlotMode, tag_for
from app.schemas import RecordOut, SourceOut

_SLOTS = {RecordMode.continuous: (SlotMode.continuous,), RecordMode.motion: (SlotMode.motion,),
          RecordMode.schedule: (SlotMode.continuous, SlotMode.motion)}


def mode_mark(source: SourceOut) -> str:
    """"● continuous", "● motion", "● schedule"; "" for a manual source."""
    return "" if source.record_mode == RecordMode.manual else f"● {source.record_mode.value}"


def mode_tags(source: SourceOut) -> set[str]:
    """The tags the source's mode records under (none for a manual source)."""
    return {tag_for(slot, source.record_tag) for slot in _SLOTS.get(source.record_mode, ())}


def mode_tip(source: SourceOut) -> str:
    """A sentence for a tooltip: what the source records by itself, under which tag."""
    tags = sorted(mode_tags(source))
    if not tags:
        return ""
    return (f"Records by itself ({source.record_mode.value}) under the tag "
            + " or ".join(f"“{tag}”" for tag in tags))


def is_mode_record(record: RecordOut) -> bool:
    """The record is one its source's mode started (its tag is the mode's)."""
    return record.source is not None and record.tag_name in mode_tags(record.source)
