"""The PTZ service of the ONVIF camera simulator (`tests/support/onvif_camera.py`, #27): a
simulated pan/tilt/zoom head that remembers what it was told and when.

Why a model of motion and not just a call log: the station's promise is about the camera,
not the wire: "a lost Stop can never leave the camera moving". So the head moves after a
ContinuousMove until a Stop or until the move's own Timeout has elapsed, and a test asks
`moving` (computed from the monotonic clock, never from a sleep) whether the camera would
still be turning. `drop_stop` makes it ignore every Stop (recorded, not obeyed), the lost-Stop
case; `relative=False` makes a ContinuousMove-only camera (RelativeMove is a fault and its
node announces no relative space).

Every call is kept in `calls` as a `PtzCall(operation, at, args)`, `at` the
`time.monotonic()` of its arrival (after the login), so a test measures how long after its
release the Stop reached the camera.
"""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

PTZ_PATH = "/onvif/PTZ"  # as some cameras name it: the station must use what the camera says
NODE = "node0"
MAX_PRESETS = 16


@dataclass
class PtzCall:
    operation: str
    at: float  # time.monotonic() when it arrived
    args: dict = field(default_factory=dict)


def _local(element: ET.Element) -> str:
    return element.tag.rpartition("}")[2]


def _find(body: ET.Element, name: str) -> ET.Element | None:
    return next((e for e in body.iter() if _local(e) == name), None)


def _text(body: ET.Element, name: str) -> str | None:
    found = _find(body, name)
    return None if found is None else (found.text or "")


def _vector(element: ET.Element | None) -> tuple[float, float, float]:
    """(pan, tilt, zoom) of a Velocity/Translation/Speed element."""
    pan = tilt = zoom = 0.0
    if element is not None:
        for child in element:
            if _local(child) == "PanTilt":
                pan, tilt = float(child.get("x", 0)), float(child.get("y", 0))
            elif _local(child) == "Zoom":
                zoom = float(child.get("x", 0))
    return pan, tilt, zoom


def parse_duration(text: str | None) -> float | None:
    """xs:duration as ONVIF cameras use it: PT1S, PT0.5S, PT1M30S."""
    if not text:
        return None
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?", text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


class SimulatedHead:
    """A PTZ head: position in ONVIF's generic spaces (pan, tilt, zoom in -1..1, zoom 0..1)."""

    def __init__(self, *, relative: bool = True):
        self.relative = relative
        self.drop_stop = False
        self.move_delay_s = 0.0  # a ContinuousMove "arrives" this late (a slow path to the camera)
        self.calls: list[PtzCall] = []
        self.position = [0.0, 0.0, 0.0]
        self.home = (0.0, 0.0, 0.0)
        self.presets: dict[str, tuple[str, tuple[float, float, float]]] = {}
        self._velocity = (0.0, 0.0, 0.0)
        self._until: float | None = None  # the current move's end (its Timeout), None: none
        self._since = 0.0  # the position is integrated up to this time
        self._next_token = 1
        self._lock = threading.Lock()

    # --- what a test asks -----------------------------------------------------------------
    @property
    def moving(self) -> bool:
        with self._lock:
            return self._moving(time.monotonic())

    def _moving(self, now: float) -> bool:
        return any(self._velocity) and (self._until is None or now < self._until)

    def operations(self) -> list[str]:
        return [c.operation for c in self.calls]

    def last(self, operation: str) -> PtzCall | None:
        return next((c for c in reversed(self.calls) if c.operation == operation), None)

    # --- what the profile and node say --------------------------------------------------
    @staticmethod
    def configuration() -> str:
        return ('<tt:PTZConfiguration token="ptz0"><tt:Name>ptz</tt:Name><tt:UseCount>1</tt:UseCount>'
                f"<tt:NodeToken>{NODE}</tt:NodeToken>"
                "<tt:DefaultContinuousPanTiltVelocitySpace>http://www.onvif.org/ver10/tptz/PanTiltSpaces/"
                "VelocityGenericSpace</tt:DefaultContinuousPanTiltVelocitySpace>"
                "<tt:DefaultContinuousZoomVelocitySpace>http://www.onvif.org/ver10/tptz/ZoomSpaces/"
                "VelocityGenericSpace</tt:DefaultContinuousZoomVelocitySpace>"
                "<tt:DefaultPTZTimeout>PT5S</tt:DefaultPTZTimeout></tt:PTZConfiguration>")

    def _node(self) -> str:
        relative = ("<tt:RelativePanTiltTranslationSpace><tt:URI>http://www.onvif.org/ver10/tptz/"
                    "PanTiltSpaces/TranslationGenericSpace</tt:URI></tt:RelativePanTiltTranslationSpace>"
                    "<tt:RelativeZoomTranslationSpace><tt:URI>http://www.onvif.org/ver10/tptz/"
                    "ZoomSpaces/TranslationGenericSpace</tt:URI></tt:RelativeZoomTranslationSpace>"
                    if self.relative else "")
        return (f'<tptz:PTZNode token="{NODE}" FixedHomePosition="false"><tt:Name>head</tt:Name>'
                "<tt:SupportedPTZSpaces>" + relative +
                "<tt:ContinuousPanTiltVelocitySpace><tt:URI>http://www.onvif.org/ver10/tptz/"
                "PanTiltSpaces/VelocityGenericSpace</tt:URI></tt:ContinuousPanTiltVelocitySpace>"
                "<tt:ContinuousZoomVelocitySpace><tt:URI>http://www.onvif.org/ver10/tptz/ZoomSpaces/"
                "VelocityGenericSpace</tt:URI></tt:ContinuousZoomVelocitySpace>"
                f"</tt:SupportedPTZSpaces><tt:MaximumNumberOfPresets>{MAX_PRESETS}"
                "</tt:MaximumNumberOfPresets><tt:HomeSupported>true</tt:HomeSupported></tptz:PTZNode>")

    # --- the service ------------------------------------------------------------------------
    def answer(self, operation: str, body: ET.Element) -> tuple[int, str]:
        if operation == "ContinuousMove" and self.move_delay_s:
            time.sleep(self.move_delay_s)  # the simulated network's delay, not a test's wait
        now = time.monotonic()
        args: dict = {}
        with self._lock:
            self.calls.append(PtzCall(operation, now, args))
            try:
                return self._operate(operation, body, now, args)
            except (ValueError, KeyError) as exc:
                return 400, _fault(f"{operation}: {exc}")

    def _operate(self, operation: str, body: ET.Element, now: float,
                 args: dict) -> tuple[int, str]:
        if operation == "GetNodes":
            return 200, f"<tptz:GetNodesResponse>{self._node()}</tptz:GetNodesResponse>"
        if operation == "ContinuousMove":
            velocity = _vector(_find(body, "Velocity"))
            if any(abs(v) > 1 for v in velocity):
                raise ValueError("speed outside -1..1")
            timeout = parse_duration(_text(body, "Timeout"))
            args.update(velocity=velocity, timeout=timeout)
            self._settle(now)
            self._velocity, self._until = velocity, now + (timeout if timeout is not None else 5.0)
            return 200, "<tptz:ContinuousMoveResponse/>"
        if operation == "Stop":
            args["dropped"] = self.drop_stop
            if not self.drop_stop:
                self._settle(now)
                self._velocity, self._until = (0.0, 0.0, 0.0), None
            return 200, "<tptz:StopResponse/>"
        if operation == "RelativeMove":
            if not self.relative:
                raise ValueError("RelativeMove is not supported by this camera")
            translation = _vector(_find(body, "Translation"))
            args["translation"] = translation
            self._settle(now)
            self._velocity, self._until = (0.0, 0.0, 0.0), None
            self.position = [max(-1.0, min(1.0, p + t)) for p, t in zip(self.position, translation)]
            return 200, "<tptz:RelativeMoveResponse/>"
        if operation == "GetPresets":
            return 200, "<tptz:GetPresetsResponse>" + "".join(
                f'<tptz:Preset token="{t}"><tt:Name>{_xml(name)}</tt:Name></tptz:Preset>'
                for t, (name, _) in self.presets.items()) + "</tptz:GetPresetsResponse>"
        if operation == "SetPreset":
            name = _text(body, "PresetName") or ""
            preset_token = _text(body, "PresetToken")
            args.update(name=name, token=preset_token)
            if preset_token is None:
                if len(self.presets) >= MAX_PRESETS:
                    raise ValueError("too many presets")
                preset_token, self._next_token = str(self._next_token), self._next_token + 1
            self._settle(now)
            self.presets[preset_token] = (name, tuple(self.position))
            return 200, (f"<tptz:SetPresetResponse><tptz:PresetToken>{preset_token}"
                         "</tptz:PresetToken></tptz:SetPresetResponse>")
        if operation == "RemovePreset":
            preset_token = _text(body, "PresetToken") or ""
            args["token"] = preset_token
            del self.presets[preset_token]
            return 200, "<tptz:RemovePresetResponse/>"
        if operation == "GotoPreset":
            preset_token = _text(body, "PresetToken") or ""
            args["token"] = preset_token
            self._velocity, self._until = (0.0, 0.0, 0.0), None
            self.position = list(self.presets[preset_token][1])
            return 200, "<tptz:GotoPresetResponse/>"
        if operation == "GotoHomePosition":
            self._velocity, self._until = (0.0, 0.0, 0.0), None
            self.position = list(self.home)
            return 200, "<tptz:GotoHomePositionResponse/>"
        if operation == "GetStatus":
            self._settle(now)
            state = "MOVING" if self._moving(now) else "IDLE"
            pan, tilt, zoom = self.position
            return 200, ("<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>"
                         f'<tt:PanTilt x="{pan:.4f}" y="{tilt:.4f}"/><tt:Zoom x="{zoom:.4f}"/>'
                         f"</tt:Position><tt:MoveStatus><tt:PanTilt>{state}</tt:PanTilt>"
                         f"<tt:Zoom>{state}</tt:Zoom></tt:MoveStatus></tptz:PTZStatus>"
                         "</tptz:GetStatusResponse>")
        return 400, _fault(f"{operation or 'nothing'} is not supported here")

    def _settle(self, now: float) -> None:
        """Integrate the position up to `now` (a unit of speed: the whole range in 10 s)."""
        since, self._since = self._since, now
        if not any(self._velocity):
            return
        end = min(now, self._until) if self._until is not None else now
        elapsed = max(0.0, end - since)
        self.position = [max(-1.0, min(1.0, p + v * elapsed / 10))
                         for p, v in zip(self.position, self._velocity)]
        if self._until is not None and now >= self._until:
            self._velocity, self._until = (0.0, 0.0, 0.0), None


def _fault(text: str) -> str:
    return ("<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason>"
            f'<s:Text xml:lang="en">{_xml(text)}</s:Text></s:Reason></s:Fault>')


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
