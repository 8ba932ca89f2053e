"""What a user may see: the sources of the groups in their scope. The one rule every door
asks (the API's lists and ids, event streams, the GUI): a source outside scope does not exist
for that user, so its ids answer 404, not 403 (a 403 would tell that it exists).

A user without a scope (`groups` None) sees every source. Footage whose source was deleted
(a record's `source_id` NULL) belongs to no group: only users without a scope see it.
"""

from __future__ import annotations

from sqlmodel import select

from app.identity import Identity
from app.catalog import Catalog
from app.models import Bookmark, Group, GroupSource, Record, StationEvent


class ScopeService:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def sources(self, identity: Identity | None) -> frozenset[int] | None:
        """The ids of the sources `identity` may see; None: all (no user, or no scope)."""
        if identity is None or identity.groups is None:
            return None
        if not identity.groups:
            return frozenset()
        with self.catalog.session() as s:
            rows = s.exec(select(GroupSource.source_id)
                          .where(GroupSource.group_id.in_(identity.groups))).all()  # type: ignore[union-attr]
        return frozenset(rows)

    def groups(self, identity: Identity | None) -> frozenset[int] | None:
        """The ids of the groups `identity` may see; None: all."""
        if identity is None or identity.groups is None:
            return None
        return frozenset(identity.groups)

    def group_named(self, name: str) -> int | None:
        with self.catalog.session() as s:
            return s.exec(select(Group.id).where(Group.name == name)).first()

    def record_source(self, record_id: str) -> int | None:
        """The source a record belongs to (None: unknown record, or its source deleted)."""
        with self.catalog.session() as s:
            row = s.get(Record, record_id)
            return None if row is None else row.source_id

    def bookmark_source(self, bookmark_id: int) -> int | None:
        with self.catalog.session() as s:
            row = s.get(Bookmark, bookmark_id)
            return None if row is None else row.source_id

    def event_source(self, event_id: int) -> int | None:
        """An event's source; None for an unknown event, and for a station-wide one (a disk
        running low concerns every user): see `app.visibility.event_visible`."""
        with self.catalog.session() as s:
            row = s.get(StationEvent, event_id)
            return None if row is None else row.source_id


