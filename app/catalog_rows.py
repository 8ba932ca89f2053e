"""Catalog rows looked up by id or name, the way every service needs them: a missing one is a
`NotFound` naming the request's field, so each front end reports it in its own shape."""

from __future__ import annotations

from sqlmodel import Session, select

from app.errors import NotFound
from app.models import Group, Source, Tag


def get_source(session: Session, source_id: int) -> Source:
    row = session.get(Source, source_id)
    if row is None:
        raise NotFound("source", source_id, field="source_id")
    return row


def get_group(session: Session, group_id: int) -> Group:
    row = session.get(Group, group_id)
    if row is None:
        raise NotFound("group", group_id, field="group_id")
    return row


def group_by_name(session: Session, name: str) -> Group:
    row = session.exec(select(Group).where(Group.name == name)).first()
    if row is None:
        raise NotFound("group", repr(name), field="group_name")
    return row


def tag_by_name(session: Session, name: str) -> Tag | None:
    return session.exec(select(Tag).where(Tag.name == name)).first()
