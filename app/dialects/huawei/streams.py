"""Streams addressed by name, the way the Huawei dialects name them: a group's name (Live
`app`, RTC `room_id`) and the name of a source in that group (Live `stream`, RTC `user_id`)."""

from __future__ import annotations

from sqlmodel import Session, select

from app.errors import NotFound
from app.models import Group, GroupSource, Source


def member_by_name(session: Session, group_name: str, source_name: str, *,
                   group_field: str, source_field: str) -> tuple[Group, Source]:
    """The group and its source, or NotFound naming the field that does not match."""
    group = session.exec(select(Group).where(Group.name == group_name)).first()
    if group is None:
        raise NotFound("group", repr(group_name), field=group_field)
    source = session.exec(
        select(Source).join(GroupSource, GroupSource.source_id == Source.id)
        .where(GroupSource.group_id == group.id, Source.name == source_name)).first()
    if source is None:
        raise NotFound(f"source in group {group_name!r}", repr(source_name), field=source_field)
    return group, source
