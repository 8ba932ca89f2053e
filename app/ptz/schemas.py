"""The public shapes of PTZ (#27 item 5): what a client asks (`PtzCommand`) and what it is
answered. Shared by the API (its body and answers) and the GUI; the same checks as the service
(`app.ptz.commands`), so a bad value is refused before a camera or another station is asked."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.ptz.commands import DEFAULT_TIMEOUT_S, MAX_NAME, MAX_TIMEOUT_S, MIN_TIMEOUT_S

Action = Literal["move", "stop", "goto_preset", "set_preset", "remove_preset", "home", "center"]


class PtzCommand(BaseModel):
    """One PTZ command."""
    action: Action = Field(description=(
        "`move`: ContinuousMove at `pan`/`tilt`/`zoom` for at most `timeout_s` (re-send it "
        "while an arrow is held; all speeds 0 is a stop); `stop`; `goto_preset` and "
        "`remove_preset` (`preset`); `set_preset` (`name`, and `preset` to overwrite one); "
        "`home`; `center` (`x`, `y`: click-to-centre, only where the camera offers "
        "RelativeMove)"))
    pan: float = Field(0.0, ge=-1.0, le=1.0, description="Pan speed, -1 (left) to 1 (right)")
    tilt: float = Field(0.0, ge=-1.0, le=1.0, description="Tilt speed, -1 (down) to 1 (up)")
    zoom: float = Field(0.0, ge=-1.0, le=1.0, description="Zoom speed, -1 (out) to 1 (in)")
    timeout_s: float = Field(DEFAULT_TIMEOUT_S, ge=MIN_TIMEOUT_S, le=MAX_TIMEOUT_S, description=(
        "How long the camera keeps moving by itself without a new `move` or a `stop`: a lost "
        "stop costs at most this"))
    preset: str | None = Field(None, min_length=1, max_length=MAX_NAME,
                               description="A preset's token, as `ptz/presets` lists it")
    name: str | None = Field(None, min_length=1, max_length=MAX_NAME, description=(
        "A preset's name for `set_preset`: 1 to 64 printable characters, without "
        "< > & \" ' ` \\"))
    x: float = Field(0.0, ge=-1.0, le=1.0, description=(
        "`center`: the clicked point's offset from the picture's centre, -1 (left edge) to 1 "
        "(right edge)"))
    y: float = Field(0.0, ge=-1.0, le=1.0, description=(
        "`center`: -1 (top edge) to 1 (bottom edge)"))


class PtzOut(BaseModel):
    """What a source's camera can do (never its address or login)."""
    pan_tilt: bool = Field(description="pans and tilts")
    zoom: bool = Field(description="zooms")
    relative: bool = Field(description="offers RelativeMove: `center` (click-to-centre) works")
    presets: bool = Field(description="keeps presets")
    home: bool = Field(description="has a home position")


class PtzPreset(BaseModel):
    token: str = Field(description="The camera's token for it: what goto_preset and remove_preset take")
    name: str


class PtzDone(BaseModel):
    action: str = Field(description="The command carried out")
    preset: PtzPreset | None = Field(None, description=(
        "`set_preset`: the preset saved, with the token the camera gave it"))
