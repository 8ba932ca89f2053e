"""The station as the GUI holds it: the same services, but each state-changing call leaves an
entry in the audit trail (dialect `gui`, address `local`, who = the operator's OS user name).

The API's guard middleware audits every state-changing request in one place; the GUI has no
such single door, so it gets one here, at the service boundary both front ends share: the
window hands its panels and dialogs an `AuditedStation` instead of the station. Reads pass
through untouched; the methods listed in `GUI_ACTIONS` run as before (on the GUI's worker
threads) and then queue an entry with their result — `AuditService.record` never blocks.

The actions are names of the one vocabulary (`app.services.audit.ACTIONS`) the API's routes
declare too, so a start from the GUI and a start through the API read the same in the trail;
a name outside it fails at import.
"""

from __future__ import annotations

import getpass
import inspect
from dataclasses import dataclass
from typing import Any, Callable

from app.identity import Identity
from app.accounts.roles import allows, role_for
from app.errors import StationError
from app.services.audit import OneOf, action_name, quoted

Args = dict[str, Any]


@dataclass(frozen=True)
class Audited:
    """How one service method is named in the trail: its action (a name of the vocabulary,
    or one chosen by an argument: `OneOf`), its target from the arguments (and the service,
    read before the call), and optionally a better target from the result (the id a create
    returned)."""

    action: str | OneOf
    target: Callable[[Args, Any], str | None]
    from_result: Callable[[Any], str | None] | None = None
    # The same action on the same target again within this many seconds is not written again
    # (a held PTZ arrow re-sends its move every ~0.3 s: one entry per hold, docs/ptz.md).
    coalesce_s: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.action, str):
            action_name(self.action)


def _arg(name: str, word: str) -> Callable[[Args, Any], str | None]:
    return lambda a, _svc: f"{word} {a[name]}" if a.get(name) is not None else None


def _name_of(a: Args, _svc: Any) -> str | None:
    name = getattr(a.get("data"), "name", None)
    return f"name {name}" if name else None


def _tag_and(word: str, key: str) -> Callable[[Args, Any], str | None]:
    def target(a: Args, _svc: Any) -> str | None:
        value = a.get(key)
        if isinstance(value, (list, tuple, set)):
            value = ",".join(str(v) for v in sorted(value))
        return f"tag {a.get('tag_name')}" + (f", {word} {value}" if value not in (None, "") else "")
    return target


def _access_request(a: Args, svc: Any) -> str | None:
    """The client and application asking, looked up before the answer removes the request;
    the client id shortened as everywhere else (it is a secret-like handle); the name is the
    asking page's own text, so it is quoted (a comma in it imitates nothing)."""
    for pending in svc.pending():
        if pending.request_id == a.get("request_id"):
            return (f"dc-client:{pending.client_id[:8]}, "
                    f"application {quoted(pending.application_name)}")
    return None


def _playback_target(a: Args, _svc: Any) -> str | None:
    """The sources a playback session shows and the instant it opens at."""
    ids = ",".join(str(i) for i in a.get("source_ids") or [])
    at = a.get("at")
    return f"sources {ids}" + (f", at {at.isoformat(timespec='seconds')}" if at else "")


def _export_target(a: Args, _svc: Any) -> str | None:
    """The sources and range of an export (a plain one, or an evidence package)."""
    request = a.get("request")
    ids = getattr(request, "source_ids", None) or a.get("source_ids") or []
    begin = getattr(request, "begin", None) or a.get("begin")
    end = getattr(request, "end", None) or a.get("end")
    text = f"sources {','.join(str(i) for i in ids)}"
    if begin is not None and end is not None:
        text += f", {begin.isoformat(timespec='seconds')} to {end.isoformat(timespec='seconds')}"
    return text + (", evidence package" if request is not None else "")


def _created(word: str) -> Callable[[Any], str | None]:
    return lambda result: f"{word} {result.id}" if getattr(result, "id", None) is not None else None


# service attribute -> method -> how it is audited. Only these methods change state.
GUI_ACTIONS: dict[str, dict[str, Audited]] = {
    "sources": {
        "create": Audited("create source", _name_of, _created("source")),
        "update": Audited("update source", _arg("source_id", "source")),
        "delete": Audited("delete source", _arg("source_id", "source")),
        # a full-size picture kept by the operator (the tile menu's Snapshot, #27 item 4)
        "full_picture_jpeg": Audited("take snapshot", _arg("source_id", "source")),
    },
    "groups": {
        "create": Audited("create group", _name_of, _created("group")),
        "rename": Audited("rename group", lambda a, _s: f"group {a['group_id']}, name {a['name']}"),
        "delete": Audited("delete group", _arg("group_id", "group")),
        "add_source": Audited("add source to group",
                              lambda a, _s: f"group {a['group_id']}, source {a['source_id']}"),
        "remove_source": Audited("remove source from group",
                                 lambda a, _s: f"group {a['group_id']}, source {a['source_id']}"),
    },
    "recordings": {
        "start": Audited("start recording", _tag_and("group", "group_name")),
        "start_sources": Audited("start recording", _tag_and("sources", "source_ids")),
        "stop": Audited("stop recording", _tag_and("model", "model")),
        "stop_record": Audited("stop recording", _arg("record_id", "record")),
        "pause": Audited("pause recording", _arg("record_id", "record")),
        "resume": Audited("resume recording", _arg("record_id", "record")),
        "set_audio_muted": Audited(OneOf("muted", {True: "mute audio"}, "unmute audio"),
                                   _arg("record_id", "record")),
        "delete_file": Audited("delete file", _arg("record_id", "record")),
        # "Save a copy": footage leaving the station's hands (the destination is left out)
        "save_copy": Audited("copy footage", _arg("record_id", "record")),
        "set_protected": Audited(OneOf("protected", {False: "unprotect record"}, "protect record"),
                                 _arg("record_id", "record")),
    },
    # the destination is left out: a station URL may carry a token
    "sync": {"create": Audited("start sync", _arg("tag_name", "tag"))},
    "bookmarks": {
        "create": Audited("create bookmark", lambda a, _s: f"source {a['data'].source_id}",
                          _created("bookmark")),
        "update": Audited("update bookmark", _arg("bookmark_id", "bookmark")),
        "delete": Audited("delete bookmark", _arg("bookmark_id", "bookmark")),
    },
    "events": {
        "acknowledge": Audited("acknowledge event", _arg("event_id", "event")),
        "acknowledge_all": Audited("acknowledge event", lambda a, _s: "every event the filter selects"),
    },
    "playback": {"open_session": Audited("play footage", _playback_target)},
    # Footage written out by the operator: to a folder, or as an evidence package.
    "exports": {"export_to": Audited("export footage", _export_target)},
    "evidence": {"export_package": Audited("export footage", _export_target)},
    # named wall layouts (#27 item 1): the View menu's and the cells' drops
    "layouts": {
        "create": Audited("create layout", _name_of, _created("layout")),
        "update": Audited("update layout", _arg("layout_id", "layout")),
        "delete": Audited("delete layout", _arg("layout_id", "layout")),
    },
    "motion": {"change": Audited("change motion settings", _arg("source_id", "source"))},
    # PTZ (docs/ptz.md): a hold's moves and its stop are one entry per 10 s, like the API's
    "ptz": {
        "move": Audited("move camera", _arg("source_id", "source"), coalesce_s=10.0),
        "stop": Audited("move camera", _arg("source_id", "source"), coalesce_s=10.0),
        "center": Audited("move camera", _arg("source_id", "source")),
        "home": Audited("move camera", _arg("source_id", "source")),
        "goto_preset": Audited("move camera", _arg("source_id", "source")),
        "set_preset": Audited("change camera presets", _arg("source_id", "source")),
        "remove_preset": Audited("change camera presets", _arg("source_id", "source")),
        "connect": Audited("connect camera control", _arg("source_id", "source")),
        "keep": Audited("connect camera control", _arg("source_id", "source")),
    },
    "dc_auth": {"decide": Audited(OneOf("approved", {True: "approve access"}, "deny access"),
                                  _access_request)},
}


def os_user() -> str:
    try:
        return getpass.getuser() or "operator"
    except Exception:  # noqa: BLE001 - no user name in this environment
        return "operator"


def outcome(result: Any = None, error: BaseException | None = None) -> str:
    """`ok`, `no change` (a method that answers False: already a member, no longer waiting),
    or `failed: <kind>`."""
    if error is not None:
        kind = error.kind if isinstance(error, StationError) else type(error).__name__
        return f"failed: {kind}"
    return "no change" if result is False else "ok"


class AuditedService:
    """One service seen through the audit: listed methods record, everything else forwards."""

    def __init__(self, service: Any, actions: dict[str, Audited], record: Callable[..., None],
                 role: str | None = None):
        object.__setattr__(self, "_service", service)
        object.__setattr__(self, "_actions", actions)
        object.__setattr__(self, "_record", record)
        object.__setattr__(self, "_role", role)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._service, name)
        audited = self._actions.get(name)
        if audited is None or not callable(value):
            return value
        return self._wrap(value, audited)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._service, name, value)

    def _wrap(self, method: Callable, audited: Audited) -> Callable:
        service, record, role = self._service, self._record, self._role

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = inspect.signature(method).bind(*args, **kwargs)
                bound.apply_defaults()
                named: Args = dict(bound.arguments)
                action = (audited.action.pick(named) if isinstance(audited.action, OneOf)
                          else audited.action)
                target = audited.target(named, service)
            except Exception:  # noqa: BLE001 - the call itself reports bad arguments
                action, target = getattr(method, "__name__", "call"), None
            # The signed-in user's role, checked here too: a shortcut key or a dialog left
            # open reaches the service without the disabled button in between.
            if role is not None and not allows(role, role_for(audited.action)):
                record(action=action, target=target, result="failed: forbidden")
                raise StationError(f"{action} needs the {role_for(audited.action)} role",
                                   kind="forbidden")
            try:
                result = method(*args, **kwargs)
            except BaseException as exc:
                record(action=action, target=target, result=outcome(error=exc),
                       coalesce_s=audited.coalesce_s)
                raise
            if audited.from_result is not None:
                try:
                    target = audited.from_result(result) or target
                except Exception:  # noqa: BLE001
                    pass
            record(action=action, target=target, result=outcome(result),
                   coalesce_s=audited.coalesce_s)
            return result

        call.__name__ = getattr(method, "__name__", "call")
        call.__doc__ = method.__doc__
        return call


class AuditedStation:
    """A station whose state-changing service calls are audited as `dialect`/`address`/`who`;
    every other attribute (settings, bus, recorder, name ...) is the station's own, read and
    written through."""

    def __init__(self, station: Any, *, who: str | None = None, dialect: str = "gui",
                 address: str = "local", role: str | None = None):
        object.__setattr__(self, "station", station)
        object.__setattr__(self, "actor", {"dialect": dialect, "address": address,
                                           "who": who or os_user()})
        object.__setattr__(self, "role", role)  # None: no signed-in user, every action
        object.__setattr__(self, "identity", None)  # the signed-in user (their scope)

    def act_as(self, who: str | None, role: str | None, identity: Identity | None = None) -> None:
        """From now on, entries name `who` (None: the OS user) and calls need `role`'s
        rights: the GUI's user signed in, or another one unlocked the window."""
        self.actor["who"] = who or os_user()
        object.__setattr__(self, "role", role)
        object.__setattr__(self, "identity", identity)

    def visible_sources(self) -> frozenset[int] | None:
        """The ids of the sources the signed-in user may see (None: every source). Reads the
        catalog: call it off the GUI thread."""
        return self.station.scope.sources(self.identity)

    def record(self, *, action: str, target: str | None, result: str,
               coalesce_s: float | None = None) -> None:
        """An entry for a change the GUI made outside the services (saving the settings)."""
        audit = getattr(self.station, "audit", None)
        if audit is not None:
            audit.record(**self.actor, action=action, target=target, result=result,
                         coalesce_s=coalesce_s)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self.station, name)
        actions = GUI_ACTIONS.get(name)
        return value if actions is None else AuditedService(value, actions, self.record,
                                                            self.role)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.station, name, value)
