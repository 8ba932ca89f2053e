"""PtzService: pan, tilt, zoom, presets and home of the cameras whose source keeps an ONVIF
control endpoint (`source.onvif`, docs/ptz.md). One service for the GUI, every API dialect and
MQTT: each checks nothing of its own but the shape of its request.

The hold design. A client moving a camera sends `move` when an arrow is pressed and again every
~0.3-0.5 s while it is held, each a ContinuousMove with a short Timeout (default 1 s), and
`stop` at the release. The camera itself ends a move whose Timeout elapses, so a lost Stop (a
dropped packet, a client that died while holding) leaves it turning for at most `timeout_s`,
never for ever; a held arrow never lets the Timeout run out because each re-sent move renews
it.

Order on the wire. Commands of one source are sent one at a time, in order; a Stop is not made
to wait behind a slow move: it goes out at once, every move still waiting is dropped, and when
a move was on the wire at the same moment the Stop is sent again once that move has been
answered (the camera might have taken the move after the Stop). So a release is never
overtaken by the hold before it.

Network calls block (SOAP over HTTP, 2 s timeout): callers run them off the catalog threads
(the API on its PTZ lane, `api.executors`; the GUI on its task runner). A source another
station of the site reads is moved by that station: the command is passed to it (the site
client's PTZ routes, like motion settings), which talks to the camera on its own network and
never passes it on again (`forwarded`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol
import xml.etree.ElementTree as ET

from app.errors import InvalidInput
from app.ptz import commands
from app.ptz.schemas import PtzCommand, PtzDone, PtzOut, PtzPreset
from app.site.client import SiteClient
from app.site.stations import StationRegistry

log = logging.getLogger(__name__)

SOAP_TIMEOUT_S = 2.0


class Soap(Protocol):
    """What the service needs of an ONVIF client (`app.services.onvif_client.OnvifClient`)."""

    def call(self, path: str, body: str) -> ET.Element: ...


class _Head:
    """One camera's order of commands: `lock` held while a command is on the wire; `stops`
    counts Stops asked, so a move asked before the latest Stop is dropped."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stops = 0
        self.moves = 0  # moves asked and not yet done (on the wire or waiting their turn)


class PtzService:
    def __init__(self, control_of: Callable[[int], dict | None],
                 client_for: Callable[[dict], Soap], *,
                 read_control: Callable[[str, str, str], dict | None] | None = None,
                 store: Callable[[int, dict | None], None] | None = None,
                 site: StationRegistry | None = None, peers: SiteClient | None = None):
        """`control_of`: a source's `onvif` dict (NotFound for no such source);
        `client_for`: an ONVIF client for it (the station's outgoing policy, 2 s timeout);
        `read_control`: what a camera at an address offers (Find cameras' reading); `store`:
        keeps a source's `onvif`; `site`, `peers`: who owns a source and how that station is
        asked (None: a station alone, every camera its own)."""
        self._control_of, self._client_for = control_of, client_for
        self._read_control, self._store = read_control, store
        self._site, self._peers = site, peers
        self._heads: dict[int, _Head] = {}
        self._lock = threading.Lock()

    # --- what a camera can do ----------------------------------------------------------
    def capabilities(self, source_id: int) -> PtzOut:
        return PtzOut(**{k: bool(v) for k, v in self._control(source_id).items()
                         if k in PtzOut.model_fields})

    def connect(self, source_id: int, address: str, user: str, password: str) -> PtzOut:
        """Read the PTZ control of the camera at `address` and keep it for the source (what
        Find cameras keeps when it adds a camera; this is how an existing source gets it)."""
        assert self._read_control is not None and self._store is not None
        self._control_of(source_id)  # NotFound first: no camera is asked for nothing
        control = self._read_control(address, user, password)
        if control is None:
            raise InvalidInput("the camera at this address has no PTZ service", field="address",
                               kind="no_ptz")
        self._store(source_id, control)
        return self.capabilities(source_id)

    def keep(self, source_id: int, control: dict | None) -> None:
        """Keep `control` (`Discovery.control_from`: what Find cameras read of the camera
        when it added it as this source), so the tile's PTZ works at once without asking
        the camera a second time."""
        assert self._store is not None
        self._control_of(source_id)  # NotFound for no such source
        self._store(source_id, control)

    # --- the one entry point of every front end ------------------------------------------
    def command(self, source_id: int, command: PtzCommand, *, forwarded: bool = False) -> PtzDone:
        """Carry out `command` on the source's camera, here or by the station that reads the
        source (unless another station `forwarded` it here: never passed on again)."""
        for field in ("name", "preset"):  # hostile names refused here, before anyone is asked
            if getattr(command, field) is not None:
                commands.name(getattr(command, field), field)
        owner = self._elsewhere(source_id, forwarded)
        if owner is not None:
            assert self._peers is not None
            self._control(source_id)  # a 422 here for a source without PTZ, not a refusal there
            sent = command.model_dump(mode="json", exclude_none=True)
            return PtzDone.model_validate(self._peers.ptz(owner, source_id, sent))
        if command.action == "move":
            self._move(source_id, command.pan, command.tilt, command.zoom, command.timeout_s)
        elif command.action == "stop":
            self._stop(source_id)
        elif command.action == "home":
            self._home(source_id)
        elif command.action == "center":
            self._center(source_id, command.x, command.y)
        elif command.action == "goto_preset":
            self._goto_preset(source_id, command.preset or "")
        elif command.action == "remove_preset":
            self._remove_preset(source_id, command.preset or "")
        else:
            return PtzDone(action=command.action,
                           preset=self._set_preset(source_id, command.name or "", command.preset))
        return PtzDone(action=command.action)

    def move(self, source_id: int, pan: float = 0.0, tilt: float = 0.0, zoom: float = 0.0,
             timeout_s: float = commands.DEFAULT_TIMEOUT_S) -> None:
        self.command(source_id, PtzCommand(action="move", pan=pan, tilt=tilt, zoom=zoom,
                                           timeout_s=timeout_s))

    def stop(self, source_id: int) -> None:
        self.command(source_id, PtzCommand(action="stop"))

    def center(self, source_id: int, x: float, y: float) -> None:
        self.command(source_id, PtzCommand(action="center", x=x, y=y))

    def home(self, source_id: int) -> None:
        self.command(source_id, PtzCommand(action="home"))

    def goto_preset(self, source_id: int, preset: str) -> None:
        self.command(source_id, PtzCommand(action="goto_preset", preset=preset))

    def set_preset(self, source_id: int, name: str, preset: str | None = None) -> PtzPreset:
        done = self.command(source_id, PtzCommand(action="set_preset", name=name, preset=preset))
        assert done.preset is not None
        return done.preset

    def remove_preset(self, source_id: int, preset: str) -> None:
        self.command(source_id, PtzCommand(action="remove_preset", preset=preset))

    # --- moving ----------------------------------------------------------------------------
    def _move(self, source_id: int, pan: float = 0.0, tilt: float = 0.0, zoom: float = 0.0,
             timeout_s: float = commands.DEFAULT_TIMEOUT_S) -> None:
        """ContinuousMove at these speeds (-1..1) for at most `timeout_s` (0.1..10 s); all
        zero is a Stop. Dropped if a Stop was asked while it waited for its turn."""
        pan, tilt = commands.speed(pan, "pan"), commands.speed(tilt, "tilt")
        zoom, timeout_s = commands.speed(zoom, "zoom"), commands.timeout(timeout_s)
        control = self._control(source_id)
        if (pan or tilt) and not control.get("pan_tilt"):
            raise InvalidInput("this camera does not pan or tilt", field="pan", kind="not_supported")
        if zoom and not control.get("zoom"):
            raise InvalidInput("this camera does not zoom", field="zoom", kind="not_supported")
        if not (pan or tilt or zoom):
            self._stop(source_id)
            return
        body = commands.continuous_move(
            control["profile"], pan if control.get("pan_tilt") else None,
            tilt if control.get("pan_tilt") else None, zoom if control.get("zoom") else None,
            timeout_s)
        head = self._head(source_id)
        with self._lock:
            asked_after = head.stops
            head.moves += 1
        try:
            with head.lock:
                if head.stops != asked_after:
                    return  # released while this move waited: the Stop wins
                self._send(control, body)
        finally:
            with self._lock:
                head.moves -= 1

    def _stop(self, source_id: int) -> None:
        """Stop pan, tilt and zoom now, ahead of any move still waiting (module docstring)."""
        control = self._control(source_id)
        head = self._head(source_id)
        with self._lock:
            head.stops += 1
        self._send(control, commands.stop(control["profile"]))
        if head.lock.locked():  # a move on the wire too: it may reach the camera after the Stop
            with head.lock:
                self._send(control, commands.stop(control["profile"]))

    def _center(self, source_id: int, x: float, y: float) -> None:
        """Click-to-centre: turn by (x, y), the clicked point's offset from the picture's
        centre as a fraction of its half width and height (-1..1), as a RelativeMove in the
        generic translation space; how far that turns depends on the camera's zoom."""
        x, y = commands.speed(x, "x"), commands.speed(y, "y")
        control = self._control(source_id)
        if not control.get("relative"):
            raise InvalidInput("this camera offers no RelativeMove, so click-to-centre is not "
                               "possible: use the arrows", field="action", kind="not_supported")
        self._ordered(source_id, control, commands.relative_move(control["profile"], x, -y))

    def _home(self, source_id: int) -> None:
        control = self._control(source_id)
        if not control.get("home"):
            raise InvalidInput("this camera has no home position", field="action", kind="not_supported")
        self._ordered(source_id, control, commands.goto_home(control["profile"]))

    # --- presets -----------------------------------------------------------------------------
    def presets(self, source_id: int, *, forwarded: bool = False) -> list[PtzPreset]:
        """The camera's presets, as it lists them (by the source's station, like `command`)."""
        owner = self._elsewhere(source_id, forwarded)
        if owner is not None:
            assert self._peers is not None
            self._with_presets(source_id)
            return [PtzPreset.model_validate(p) for p in self._peers.ptz_presets(owner, source_id)]
        control = self._with_presets(source_id)
        answer = self._send(control, commands.get_presets(control["profile"]))
        return [PtzPreset(token=t, name=n) for t, n in commands.presets_of(answer)]

    def _goto_preset(self, source_id: int, preset: str) -> None:
        preset = commands.name(preset, "preset")
        control = self._with_presets(source_id)
        self._ordered(source_id, control, commands.goto_preset(control["profile"], preset))

    def _set_preset(self, source_id: int, name: str, preset: str | None = None) -> PtzPreset:
        """Save where the camera looks now as preset `name` (replacing preset `preset` when
        given); answers the preset with the token the camera gave it."""
        name = commands.name(name, "name")
        preset = commands.name(preset, "preset") if preset else None
        control = self._with_presets(source_id)
        answer = self._ordered(source_id, control,
                               commands.set_preset(control["profile"], name, preset))
        return PtzPreset(token=commands.preset_token_of(answer) if answer is not None else preset or "",
                         name=name)

    def _remove_preset(self, source_id: int, preset: str) -> None:
        preset = commands.name(preset, "preset")
        control = self._with_presets(source_id)
        self._ordered(source_id, control, commands.remove_preset(control["profile"], preset))

    # --- internals -------------------------------------------------------------------------
    def _control(self, source_id: int) -> dict:
        control = self._control_of(source_id)  # NotFound for no such source
        if not control or not control.get("profile") or not control.get("service"):
            raise InvalidInput("this source has no PTZ control: add its camera with Find cameras "
                               "(ONVIF) or connect it (PUT /api/v1/source/{id}/ptz/camera)",
                               field="source_id", kind="no_ptz")
        return control

    def _elsewhere(self, source_id: int, forwarded: bool) -> str | None:
        """The station that reads the source when it is not this one (and the request was
        not passed here by another station); None: this station talks to the camera."""
        if forwarded or self._site is None or self._peers is None:
            return None
        owner = self._site.owner(source_id)
        return None if self._site.is_local(owner) else owner

    def _with_presets(self, source_id: int) -> dict:
        control = self._control(source_id)
        if not control.get("presets"):
            raise InvalidInput("this camera keeps no presets", field="action", kind="not_supported")
        return control

    def _head(self, source_id: int) -> _Head:
        with self._lock:
            return self._heads.setdefault(source_id, _Head())

    def _ordered(self, source_id: int, control: dict, body: str) -> ET.Element:
        with self._head(source_id).lock:
            return self._send(control, body)

    def _send(self, control: dict, body: str) -> ET.Element:
        return self._client_for(control).call(control["service"], body)
