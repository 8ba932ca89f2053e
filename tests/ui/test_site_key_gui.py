"""A source whose credentials were written with another credentials key (#22 item 4), in the
window, offscreen on a real core: the sources tree (under All sources and in its group) and
its tile say "credentials unreadable on this station"; the other sources show as before."""

from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import text

from app.credentials import PREFIX, UNREADABLE
from app.schemas import GroupIn, SourceIn
from tests.conftest import TESTSRC_5FPS
from ui.application import ensure_application
from ui.groups_panel import ID, KIND, SOURCE, GroupsPanel
from ui.tasks import TaskRunner


def test_the_sources_tree_and_tile_say_the_credentials_are_unreadable(qtbot, station):
    ensure_application()
    good = station.sources.create(SourceIn(name="good", uri_rtsp=TESTSRC_5FPS))
    bad = station.sources.create(SourceIn(name="bad", uri_rtsp=TESTSRC_5FPS))
    group = station.groups.create(GroupIn(name="both"))
    for source in (good, bad):
        station.groups.add_source(group.id, source.id)
    with station.catalog.engine.begin() as conn:  # written with another key
        conn.execute(text("UPDATE source SET uri_rtsp = :v WHERE id = :id"), {
            "v": PREFIX + Fernet(Fernet.generate_key()).encrypt(b"rtsp://u:p@h/x").decode(),
            "id": bad.id})
    reports: list[str] = []
    tasks = TaskRunner()
    panel = GroupsPanel(station, tasks, lambda message, error=False: reports.append(message))
    qtbot.addWidget(panel)
    panel.reload()

    def rows():
        return [(item.data(0, ID), item.text(0), item.toolTip(0)) for item in panel._items()
                if item.data(0, KIND) == SOURCE]

    qtbot.waitUntil(lambda: len(rows()) == 4, timeout=5000)  # under All sources and the group
    shown = rows()
    for source_id, label, tip in shown:
        if source_id == bad.id:
            assert label == f"bad · {UNREADABLE}" and "enter its address again" in tip
        else:
            assert label == "good" and UNREADABLE not in tip
    assert reports == []
    assert station.sources.live_stats(bad.id).error == UNREADABLE  # its tile's words
    panel._site_timer.stop()
    tasks.shutdown()
