"""Driving the source dialog in GUI tests: opened on a real core and waited for until its form
has loaded, and saved through its own button, the way an operator does it."""

from __future__ import annotations

from ui.sources.source_dialog import SourceDialog


def open_source_dialog(qtbot, station, tasks, *, kind=None, source_id=None) -> SourceDialog:
    """The Add (or, with `source_id`, Edit) source dialog, open and loaded."""
    dialog = SourceDialog(station, tasks, None, kind=kind, source_id=source_id)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.loaded, timeout=5000)
    return dialog


def save_source(qtbot, dialog: SourceDialog):
    """Click Save and return the source the dialog reports saved."""
    with qtbot.waitSignal(dialog.saved, timeout=10000) as blocker:
        dialog.save_button.click()
    return blocker.args[0]
