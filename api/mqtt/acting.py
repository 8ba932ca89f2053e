"""Whom MQTT commands act as (#26): the account `mqtt_user` names. Anyone who can publish on
the broker reaches the command topic, so commands need an account like every other door: its
role decides what they may do and its scope which groups they reach; the audit trail names it.
Without `mqtt_user` (or with an account that is disabled, expired or gone) every command and
switch is refused; state is still published."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.identity import Identity
from app.accounts.roles import may

if TYPE_CHECKING:
    from app.station import Station

OFF = ("MQTT commands are off: set mqtt_user to the account they act as (docs/security.md)")


def command_user(station: "Station") -> Identity | None:
    """The account commands act as now (read per message: a settings change applies)."""
    name = station.settings.mqtt_user
    if not name:
        return None
    return station.tokens.identity_named(name, via="mqtt")


def user_refusal(station: "Station", identity: Identity | None, action: str,
            group_id: int | None = None, group_name: str | None = None) -> tuple[int, str] | None:
    """Why `identity` may not do `action` on the group (status, detail), or None."""
    if identity is None:
        return 403, OFF
    if not may(identity.role, action):
        return 403, f"the MQTT user's role {identity.role!r} may not {action}"
    if identity.groups is None:
        return None
    if group_name is not None:  # a command names its group; a switch gives its id
        group_id = station.scope.group_named(group_name)
        if group_id is None or group_id not in identity.groups:
            return 404, f"group {group_name!r} not found"
    if group_id is not None and group_id not in identity.groups:
        return 404, f"group {group_id} not found"
    return None
