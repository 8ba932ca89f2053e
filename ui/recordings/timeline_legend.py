"""The timeline's legend: what its colours mean, under its buttons.

Why: a bar's colour is its tag's (`timeline_view.tag_colour`, steady across sessions), which no
one can guess, and the thin strip at a lane's foot has a colour per kind of event; a first
look at the timeline should read without a manual (#25 item 3). The legend names every tag
present in the lanes read (in their colours, the first `SHOWN_TAGS` of them, the rest counted
and listed in its tool tip) and then the fixed marks: an outage inside a file, a deleted
file, a protected one, a bookmark, and the events strip by severity and for motion. Marks other
panels draw over the timeline while they have something to show (motion search's hits) are
named while they are drawn (`set_extra`).
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from ui.recordings.timeline_view import KIND_COLOURS, SEVERITY_COLOURS, Lane, tag_colour

SHOWN_TAGS = 8
GAP_COLOUR, DELETED_COLOUR, BOOKMARK_COLOUR = "#3a3a3a", "#8a8f96", "#f6c344"
# (words, colour, glyph) of the marks drawn whatever the tags: the colours timeline_view paints
MARKS = (("no recording (gap)", GAP_COLOUR, "■"), ("file deleted", DELETED_COLOUR, "■"),
         ("protected", "#555555", "▁"), ("bookmark", BOOKMARK_COLOUR, "⚑"),
         ("alarm", SEVERITY_COLOURS["alarm"].name(), "▬"),
         ("warning", SEVERITY_COLOURS["warning"].name(), "▬"),
         ("info", SEVERITY_COLOURS["info"].name(), "▬"),
         ("motion", KIND_COLOURS["motion"].name(), "▬"),
         ("constant motion", KIND_COLOURS["constant_motion"].name(), "▬"))


def tags_present(lanes: list[Lane]) -> list[str]:
    """The tags of the records in the lanes read, by name."""
    return sorted({record.tag_name or "" for lane in lanes if lane.spans is not None
                   for record in lane.spans.records if record.status != "deleted"})


class TimelineLegend(QLabel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setWordWrap(True)
        self.setProperty("hint", True)
        self.tags: list[str] = []
        self.extra: tuple[tuple[str, str, str], ...] = ()  # (words, colour, glyph) drawn now
        self.set_tags([])

    def entries(self) -> list[str]:
        """What the legend names, in order: the tags, then the marks (tests read it)."""
        return list(self.tags) + [words for words, _colour, _glyph in MARKS + self.extra]

    def set_extra(self, marks: tuple[tuple[str, str, str], ...]) -> None:
        """Name these marks too, after the fixed ones (() when their panel draws none)."""
        if tuple(marks) != self.extra:
            self.extra = tuple(marks)
            self.set_tags(self.tags, force=True)

    def set_tags(self, tags: list[str], *, force: bool = False) -> None:
        if tags == self.tags and self.text() and not force:
            return
        self.tags = list(tags)
        shown = [self._item(tag or "(no tag)", tag_colour(tag).name(), "■")
                 for tag in tags[:SHOWN_TAGS]]
        more = len(tags) - SHOWN_TAGS
        if more > 0:
            shown.append(f"+{more} more")
        marks = [self._item(words, colour, glyph) for words, colour, glyph in MARKS + self.extra]
        lead = "Tags: " + " ".join(shown) + " &nbsp;·&nbsp; " if shown else ""
        self.setText(lead + "Marks: " + " ".join(marks))
        self.setToolTip("Tags (bar colours): " + (", ".join(tags) if tags else "none in view")
                        + "\nA dark stretch inside a bar: the camera was away (no recording)."
                        "\nThe strip at a lane's foot: its events (red alarm, orange warning, "
                        "blue info, green motion, purple constant motion).")

    @staticmethod
    def _item(words: str, colour: str, glyph: str) -> str:
        return (f"<span style='color:{colour}'>{glyph}</span>&nbsp;{escape(words)}"
                "&nbsp;&nbsp;")
