"""Is a source (or its footage, or its event) visible to a user who sees `visible` (the ids
of the sources in their scope; None: every source)? The rule a scope is, as pure functions
every room can ask (recordings stop only what a user sees, events are filtered on the bus);
which sources a user's groups hold is `app.accounts.scope`."""

from __future__ import annotations


def in_scope(source_id: int | None, visible: frozenset[int] | None) -> bool:
    """Footage of a deleted source (`source_id` None) belongs to no group: only users
    without a scope see it."""
    return visible is None or (source_id is not None and source_id in visible)


def event_visible(source_id: int | None, visible: frozenset[int] | None) -> bool:
    """An event without a source (the disk, the catalog) is everyone's; a source's event is
    seen by those who see the source."""
    return source_id is None or in_scope(source_id, visible)
