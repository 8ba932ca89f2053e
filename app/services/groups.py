"""Groups: named sets of sources that are started and stopped together."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.catalog import Catalog
from app.catalog_rows import get_group, get_source
from app.dto import source_out
from app.errors import Conflict
from app.events import CatalogChanged, EventSink
from app.models import Group, GroupSource, Source
from app.schemas import GroupDetail, GroupIn, GroupOut, iso_utc
from recorder.manager import RecorderManager


def group_out(row: Group) -> GroupOut:
    return GroupOut(id=row.id, created_utc=iso_utc(row.created_utc), name=row.name)


class GroupService:
    def __init__(self, catalog: Catalog, recorder: RecorderManager, bus: EventSink, *,
                 status_of: Callable[[int], tuple[str, str | None]] | None = None):
        self.catalog, self.recorder, self.bus = catalog, recorder, bus
        # The site's view of a source's status (app.site.stations); a station alone: its own.
        self.status_of = status_of or recorder.status

    def list(self) -> list[GroupOut]:
        with self.catalog.session() as s:
            return [group_out(g) for g in s.exec(select(Group).order_by(Group.id)).all()]

    def get(self, group_id: int) -> GroupDetail:
        with self.catalog.session() as s:
            group = get_group(s, group_id)
            sources = s.exec(
                select(Source).join(GroupSource, GroupSource.source_id == Source.id)
                .where(GroupSource.group_id == group_id).order_by(Source.id)
            ).all()
            return GroupDetail(**group_out(group).model_dump(),
                               sources=[source_out(r, self.status_of(r.id)) for r in sources])

    def create(self, data: GroupIn) -> GroupOut:
        with self.catalog.session() as s:
            if s.exec(select(Group).where(Group.name == data.name)).first() is not None:
                raise Conflict(f"a group named {data.name!r} already exists", field="name")
            row = Group(name=data.name)
            s.add(row)
            try:
                s.flush()
            except IntegrityError:
                raise Conflict(f"a group named {data.name!r} already exists", field="name") from None
            s.refresh(row)
            out = group_out(row)
        self.bus.publish(CatalogChanged("group", out.id, "created"))
        return out

    def rename(self, group_id: int, name: str) -> GroupOut:
        data = GroupIn(name=name)
        with self.catalog.session() as s:
            row = get_group(s, group_id)
            clash = s.exec(select(Group).where(Group.name == data.name, Group.id != group_id)).first()
            if clash is not None:
                raise Conflict(f"a group named {data.name!r} already exists", field="name")
            row.name = data.name
            s.add(row)
            out = group_out(row)
        self.bus.publish(CatalogChanged("group", group_id, "updated"))
        return out

    def delete(self, group_id: int) -> GroupOut:
        with self.catalog.session() as s:
            row = get_group(s, group_id)
            out = group_out(row)
            for link in s.exec(select(GroupSource).where(GroupSource.group_id == group_id)).all():
                s.delete(link)
            s.delete(row)
        self.bus.publish(CatalogChanged("group", group_id, "deleted"))
        return out

    def add_source(self, group_id: int, source_id: int) -> bool:
        """True when added, False when it was already a member."""
        with self.catalog.session() as s:
            get_group(s, group_id)
            get_source(s, source_id)
            if s.get(GroupSource, (group_id, source_id)) is not None:
                return False
            s.add(GroupSource(group_id=group_id, source_id=source_id))
            try:
                s.flush()
            except IntegrityError:
                return False
        self.bus.publish(CatalogChanged("group", group_id, "members"))
        return True

    def remove_source(self, group_id: int, source_id: int) -> bool:
        """True when removed, False when it was not a member."""
        with self.catalog.session() as s:
            get_group(s, group_id)
            get_source(s, source_id)
            link = s.get(GroupSource, (group_id, source_id))
            if link is None:
                return False
            s.delete(link)
        self.bus.publish(CatalogChanged("group", group_id, "members"))
        return True
