"""The ONVIF PTZ operations as SOAP bodies, and the checks of what a client may put in them.

Kept apart from the service so the rules are in one place and readable: a speed is a number in
-1..1 (ONVIF's generic velocity space), a move's timeout 0.1..10 s (the camera stops by
itself when it elapses, so a lost Stop costs at most that long), a preset's name 1..64
printable characters without markup, a preset token what the camera gave (same rule). Every
value the station writes into XML is escaped anyway; the rules exist so that hostile input is
refused (422) rather than sent to a camera's parser.
"""

from __future__ import annotations

import math
import unicodedata
import xml.etree.ElementTree as ET

from app.errors import InvalidInput

TPTZ = "http://www.onvif.org/ver20/ptz/wsdl"
TT = "http://www.onvif.org/ver10/schema"
MIN_TIMEOUT_S, MAX_TIMEOUT_S, DEFAULT_TIMEOUT_S = 0.1, 10.0, 1.0
MAX_NAME = 64
MARKUP = set("<>&\"'`\\")


def speed(value: float, field: str) -> float:
    """A velocity component in -1..1; NaN and infinities refused."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field}: a number from -1 to 1", field=field) from None
    if not math.isfinite(number) or not -1.0 <= number <= 1.0:
        raise InvalidInput(f"{field}: a speed from -1 to 1", field=field)
    return number


def timeout(value: float) -> float:
    number = float(value)
    if not math.isfinite(number) or not MIN_TIMEOUT_S <= number <= MAX_TIMEOUT_S:
        raise InvalidInput(f"timeout_s: from {MIN_TIMEOUT_S} to {MAX_TIMEOUT_S} seconds",
                           field="timeout_s")
    return number


def name(value: str, field: str) -> str:
    """A preset name or token: 1..64 printable characters, no control or format characters,
    no markup (`< > & " ' \\` and backquote); surrounding spaces dropped."""
    text = (value or "").strip() if isinstance(value, str) else ""
    if not 1 <= len(text) <= MAX_NAME:
        raise InvalidInput(f"{field}: 1 to {MAX_NAME} characters", field=field)
    for char in text:
        if unicodedata.category(char)[0] == "C" or char in MARKUP:
            raise InvalidInput(f"{field}: printable characters only, without < > & \" ' ` \\",
                               field=field)
    return text


def _x(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _profile(profile: str) -> str:
    return f"<tptz:ProfileToken>{_x(profile)}</tptz:ProfileToken>"


def continuous_move(profile: str, pan: float | None, tilt: float | None, zoom: float | None,
                    timeout_s: float) -> str:
    """ContinuousMove: PanTilt only when the camera pans (None: it does not), Zoom likewise."""
    velocity = ""
    if pan is not None and tilt is not None:
        velocity += f'<tt:PanTilt x="{pan:.4f}" y="{tilt:.4f}"/>'
    if zoom is not None:
        velocity += f'<tt:Zoom x="{zoom:.4f}"/>'
    return (f"<tptz:ContinuousMove>{_profile(profile)}<tptz:Velocity>{velocity}</tptz:Velocity>"
            f"<tptz:Timeout>PT{timeout_s:.3f}S</tptz:Timeout></tptz:ContinuousMove>")


def stop(profile: str) -> str:
    return (f"<tptz:Stop>{_profile(profile)}<tptz:PanTilt>true</tptz:PanTilt>"
            "<tptz:Zoom>true</tptz:Zoom></tptz:Stop>")


def relative_move(profile: str, x: float, y: float) -> str:
    return (f"<tptz:RelativeMove>{_profile(profile)}<tptz:Translation>"
            f'<tt:PanTilt x="{x:.4f}" y="{y:.4f}"/></tptz:Translation></tptz:RelativeMove>')


def get_presets(profile: str) -> str:
    return f"<tptz:GetPresets>{_profile(profile)}</tptz:GetPresets>"


def goto_preset(profile: str, token: str) -> str:
    return (f"<tptz:GotoPreset>{_profile(profile)}<tptz:PresetToken>{_x(token)}"
            "</tptz:PresetToken></tptz:GotoPreset>")


def set_preset(profile: str, preset_name: str, token: str | None) -> str:
    replace = f"<tptz:PresetToken>{_x(token)}</tptz:PresetToken>" if token else ""
    return (f"<tptz:SetPreset>{_profile(profile)}<tptz:PresetName>{_x(preset_name)}"
            f"</tptz:PresetName>{replace}</tptz:SetPreset>")


def remove_preset(profile: str, token: str) -> str:
    return (f"<tptz:RemovePreset>{_profile(profile)}<tptz:PresetToken>{_x(token)}"
            "</tptz:PresetToken></tptz:RemovePreset>")


def goto_home(profile: str) -> str:
    return f"<tptz:GotoHomePosition>{_profile(profile)}</tptz:GotoHomePosition>"


def presets_of(answer: ET.Element) -> list[tuple[str, str]]:
    """(token, name) of each preset a GetPresets answer lists; what breaks the rules is left
    out (a camera is hostile input too), at most 256."""
    found = []
    for element in answer.iter(f"{{{TPTZ}}}Preset"):
        token = element.get("token") or ""
        label = element.findtext(f"{{{TT}}}Name") or token
        try:
            found.append((name(token, "preset"), name(label, "name")))
        except InvalidInput:
            continue
        if len(found) >= 256:
            break
    return found


def preset_token_of(answer: ET.Element) -> str:
    token = answer.findtext(f".//{{{TPTZ}}}PresetToken") or ""
    return name(token, "preset")
