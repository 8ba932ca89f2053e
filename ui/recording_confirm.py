"""What a stop will stop, said before it happens (#27 item 6): the Recording panel's Stop tag
and Stop all ask first, naming the sources that stop and the recording modes that go on.

Why the modes are named: a source whose recording mode is continuous, motion or schedule
records by itself under its mode's tag (app.record_modes), and that record is the mode's:
Stop all leaves it recording, and a tag stopped by name ends only the tag's own records, so
"stop" never means "this camera stops recording" for such a source. A tag that *is* a mode's
tag, stopped by name, ends the mode's file too, and the mode keeper starts a new one at its
next look (app.recordings.mode_keeper). Which record is a mode's is the core's rule, asked
through ui.mode_marks.

The question is worked out from the records running now (read off the GUI thread), and the
box is opened window-modal without blocking (`open()`), so tests and the event loop go on.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtWidgets import QMessageBox, QWidget

from app.schemas import RecordOut
from ui.mode_marks import is_mode_record

MAX_NAMES = 8  # sources named in a sentence; the rest are counted


@dataclass(frozen=True)
class StopQuestion:
    title: str
    text: str          # what stops
    details: str       # what keeps recording, and why


def names(items: list[str]) -> str:
    """"a, b and 3 more": a list short enough for a sentence."""
    items = sorted(set(items), key=str.lower)
    if len(items) > MAX_NAMES:
        return ", ".join(items[:MAX_NAMES]) + f" and {len(items) - MAX_NAMES} more"
    return ", ".join(items)


def _source_name(record: RecordOut) -> str:
    return record.source.name if record.source is not None else "a deleted source"


def _modes(records: list[RecordOut]) -> str:
    """"right (continuous), door (motion)": the sources of `records` that record by themselves."""
    seen: dict[str, str] = {}
    for record in records:
        source = record.source
        if source is not None and source.record_mode and source.record_mode.value != "manual":
            seen[source.name] = source.record_mode.value
    return names([f"{name} ({mode})" for name, mode in seen.items()])


def stop_tag_question(tag: str, running: list[RecordOut]) -> StopQuestion:
    """Stopping `tag` by name: its records stop, the mode's own too when it is a mode's tag."""
    mine = [r for r in running if r.tag_name == tag]
    stopping = names([_source_name(r) for r in mine])
    text = (f"Stop the tag “{tag}”? {len(mine)} recording(s) stop: {stopping}." if mine
            else f"Stop the tag “{tag}”? Nothing records under it here now.")
    owned = [r for r in mine if is_mode_record(r)]
    others = [r for r in mine if not is_mode_record(r)]
    lines = []
    if owned:
        lines.append(f"“{tag}” is the tag recording modes record under: the modes' own files "
                     f"of {names([_source_name(r) for r in owned])} end too, and each mode "
                     "starts a new one within a second.")
    keeping = _modes(others)
    if keeping:
        lines.append(f"Recording modes keep recording: {keeping}, under their own tags.")
    elif not owned:
        lines.append("No source of it records by itself: these sources stop recording.")
    return StopQuestion("Stop recording", text, "\n\n".join(lines))


def stop_all_question(running: list[RecordOut]) -> StopQuestion:
    """Stop all: every tag stops except the records the sources' modes own."""
    stopping = [r for r in running if not is_mode_record(r)]
    kept = [r for r in running if is_mode_record(r)]
    tags = sorted({r.tag_name or "" for r in stopping})
    if stopping:
        text = (f"Stop every tag? {len(stopping)} recording(s) of "
                + ", ".join(f"“{t}”" for t in tags)
                + f" stop: {names([_source_name(r) for r in stopping])}.")
    else:
        text = "Stop every tag? No tag records now apart from the recording modes."
    if kept:
        details = (f"Recording modes keep recording: {_modes(kept)} "
                   f"(under {', '.join(sorted({f'“{r.tag_name}”' for r in kept}))}).")
    else:
        details = "No recording mode records now: nothing keeps recording."
    return StopQuestion("Stop all recording", text, details)


def ask(parent: QWidget, question: StopQuestion, yes_text: str) -> QMessageBox:
    """The question as a box with Stop / Cancel, Cancel by default; opened, not executed:
    the caller connects `finished` (the answer is StandardButton.Yes to go ahead)."""
    box = QMessageBox(QMessageBox.Icon.Question, question.title, question.text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, parent)
    box.setInformativeText(question.details)
    box.button(QMessageBox.StandardButton.Yes).setText(yes_text)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.open()
    return box
