"""What each role may do: the one table every door asks (the native API's guard, the other
dialects, MQTT, the GUI), so no front end re-decides who may delete footage.

Three built-in roles, each with everything of the one below it:

- **viewer**: live and playback of the sources in scope, bookmarks; no export, no control.
- **operator**: viewer + start and stop recordings, tags, exports and snapshots, PTZ,
  acknowledge events, protect footage.
- **admin**: everything: sources, groups, settings, users, retention, deletes, other
  stations (the site's service token is admin-equivalent).

A state change needs the role its audit action needs (`ACTION_ROLES`, one entry per name of
`app.services.audit.ACTIONS`: a new action without a role fails at import). A read declares its
role where its route is added (`api.native.params.add_route(..., role=...)`).
"""

from __future__ import annotations

from app.services.audit import ACTIONS, OneOf, declared_names

VIEWER, OPERATOR, ADMIN = "viewer", "operator", "admin"
RANK = {VIEWER: 1, OPERATOR: 2, ADMIN: 3}

_VIEWER_ACTIONS = {
    "create bookmark", "update bookmark", "delete bookmark", "play footage",
    "watch events", "stop watching events", "start preview", "stop preview",
    "sign in", "sign out", "change password", "create token", "revoke token",
    "create access key", "revoke access key",
}
_OPERATOR_ACTIONS = {
    "start recording", "stop recording", "pause recording", "resume recording", "switch group",
    "mute audio", "unmute audio", "update recording job", "take photo", "take snapshot",
    "set recorder options", "protect record", "unprotect record", "protect tag", "unprotect tag",
    "acknowledge event", "export footage", "download footage", "copy footage", "start sync",
    "command", "create layout", "update layout", "delete layout",
    "move camera", "change camera presets",
}
ACTION_ROLES: dict[str, str] = {
    name: VIEWER if name in _VIEWER_ACTIONS else OPERATOR if name in _OPERATOR_ACTIONS else ADMIN
    for name in ACTIONS
}
_unknown = (_VIEWER_ACTIONS | _OPERATOR_ACTIONS) - set(ACTIONS)
if _unknown:  # a role given to a name the vocabulary lost: fail at import, not in a request
    raise ValueError(f"roles for actions not in app.services.audit.ACTIONS: {sorted(_unknown)}")


def allows(have: str, need: str) -> bool:
    """Does the role `have` include the role `need`?"""
    return RANK.get(have, 0) >= RANK[need]


def role_for(action: str | OneOf) -> str:
    """The role an action needs; for a declaration that picks one of several names by a
    field (`OneOf`), the highest of them (a viewer may not ask for either by choosing)."""
    names = declared_names(action)
    return max((ACTION_ROLES[name] for name in names), key=RANK.__getitem__)


def may(role: str | None, action: str) -> bool:
    """May a user of `role` do `action`? None: no user (the site's service token, or a
    station without accounts' open loopback door): everything, as before accounts."""
    return role is None or allows(role, ACTION_ROLES[action])
