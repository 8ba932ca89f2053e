"""A source's motion settings: what the detector and the tracker read, validated once here.

Settings reach the station from hostile places (the API, MQTT, a catalog row written by an
older version), so every value is checked when a ``MotionSettings`` or ``Zone`` is built, not
where it is used: a detector never sees a sensitivity of 0 or a polygon with a NaN corner.
A bad value raises ``SettingsError(field, message)`` naming the field the way a client wrote
it (``zones[1].points``), so the API can answer which field was wrong.

Zones are kept in normalised coordinates (0..1 of the picture's width and height): a camera
whose resolution changes keeps its zones, and the detector rasterises them at whatever size
it analyses (vision/detector.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

ALGORITHMS = ("diff", "mog2")
ZONE_KINDS = ("include", "exclude")
MAX_ZONES = 32
MAX_NAME = 40
MIN_POINTS, MAX_POINTS = 3, 64


class SettingsError(ValueError):
    """A motion setting that is not acceptable; ``field`` names it as the client wrote it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def _number(name: str, value: Any, low: float, high: float) -> float:
    """A finite real number in [low, high]; bools are not numbers here (JSON true is not 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(name, "must be a number")
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise SettingsError(name, f"must be between {low:g} and {high:g}")
    return value


def _integer(name: str, value: Any, low: int, high: int) -> int:
    """A whole number in [low, high]; 50.0 is accepted as 50, 50.5 is not."""
    number = _number(name, value, low, high)
    if number != int(number):
        raise SettingsError(name, "must be a whole number")
    return int(number)


def _check_name(name: str, value: Any, *, required: bool) -> str:
    if not isinstance(value, str):
        raise SettingsError(name, "must be a string")
    if len(value) > MAX_NAME:
        raise SettingsError(name, f"must be at most {MAX_NAME} characters")
    if required and not value.strip():
        raise SettingsError(name, "must not be empty")
    if any(not ch.isprintable() for ch in value):
        raise SettingsError(name, "must not contain control characters")
    return value


@dataclass(frozen=True)
class Zone:
    """A polygon drawn on the picture: a named include zone (motion counts only inside
    include zones once any is drawn; each may have its own sensitivity) or an exclude mask
    (a clock burned into the picture, a tree, a road: never counted)."""

    name: str
    kind: Literal["include", "exclude"]
    points: tuple[tuple[float, float], ...]
    sensitivity: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ZONE_KINDS:
            raise SettingsError("kind", f"must be one of {', '.join(ZONE_KINDS)}")
        _check_name("name", self.name, required=self.kind == "include")
        points = self.points
        if isinstance(points, (str, bytes)) or not isinstance(points, (list, tuple)):
            raise SettingsError("points", "must be a list of [x, y] pairs")
        if not MIN_POINTS <= len(points) <= MAX_POINTS:
            raise SettingsError("points", f"must have {MIN_POINTS} to {MAX_POINTS} points")
        clean = []
        for i, point in enumerate(points):
            if isinstance(point, (str, bytes)) or not isinstance(point, (list, tuple)) \
                    or len(point) != 2:
                raise SettingsError(f"points[{i}]", "must be an [x, y] pair")
            clean.append((_number(f"points[{i}]", point[0], 0.0, 1.0),
                          _number(f"points[{i}]", point[1], 0.0, 1.0)))
        object.__setattr__(self, "points", tuple(clean))
        if self.sensitivity is not None:
            if self.kind == "exclude":
                raise SettingsError("sensitivity", "an exclude mask has no sensitivity")
            object.__setattr__(self, "sensitivity",
                               _integer("sensitivity", self.sensitivity, 1, 100))

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind,
                "points": [[x, y] for x, y in self.points],
                "sensitivity": self.sensitivity}

    @classmethod
    def from_dict(cls, data: Any) -> Zone:
        if not isinstance(data, dict):
            raise SettingsError("", "a zone must be an object")
        unknown = set(data) - {"name", "kind", "points", "sensitivity"}
        if unknown:
            raise SettingsError(sorted(unknown)[0], "unknown field")
        for key in ("kind", "points"):
            if key not in data:
                raise SettingsError(key, "is required")
        return cls(name=data.get("name", ""), kind=data["kind"], points=data["points"],
                   sensitivity=data.get("sensitivity"))


# (low, high) of each numeric setting; the limits are what the detector and the recorder can
# honour, not taste: 15 analysed pictures a second is more than motion needs at 180 px, a
# pre-capture is bounded by the recorder's pre-roll, an event shorter than 10 s is no event.
_FLOATS = {
    "fps": (1.0, 15.0),
    "min_area": (0.0, 1.0),
    "make_time_s": (0.0, 60.0),
    "post_capture_s": (0.0, 3600.0),
    "pre_capture_s": (0.0, 60.0),
    "max_event_s": (10.0, 86400.0),
    "global_change": (0.05, 1.0),
    "constant_motion_share": (0.05, 1.0),
}


@dataclass(frozen=True)
class MotionSettings:
    """One source's motion settings (docs/motion.md says what each is for)."""

    enabled: bool = True
    algorithm: Literal["diff", "mog2"] = "diff"
    fps: float = 5.0
    sensitivity: int = 50
    min_area: float = 0.002
    make_time_s: float = 0.5
    post_capture_s: float = 10.0
    pre_capture_s: float = 5.0
    max_event_s: float = 600.0
    global_change: float = 0.8
    constant_motion_share: float = 0.5
    night_sensitivity: int | None = None
    night_min_area: float | None = None
    zones: tuple[Zone, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise SettingsError("enabled", "must be true or false")
        if self.algorithm not in ALGORITHMS:
            raise SettingsError("algorithm", f"must be one of {', '.join(ALGORITHMS)}")
        for name, (low, high) in _FLOATS.items():
            object.__setattr__(self, name, _number(name, getattr(self, name), low, high))
        object.__setattr__(self, "sensitivity",
                           _integer("sensitivity", self.sensitivity, 1, 100))
        if self.night_sensitivity is not None:
            object.__setattr__(self, "night_sensitivity",
                               _integer("night_sensitivity", self.night_sensitivity, 1, 100))
        if self.night_min_area is not None:
            object.__setattr__(self, "night_min_area",
                               _number("night_min_area", self.night_min_area, 0.0, 1.0))
        object.__setattr__(self, "zones", _check_zones(self.zones))

    # --- what is in force ------------------------------------------------------------------
    def sensitivity_for(self, night: bool) -> int:
        """The source's sensitivity in force by day or by night."""
        if night and self.night_sensitivity is not None:
            return self.night_sensitivity
        return self.sensitivity

    def min_area_for(self, night: bool) -> float:
        if night and self.night_min_area is not None:
            return self.night_min_area
        return self.min_area

    # --- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "zones"}
        out["zones"] = [zone.to_dict() for zone in self.zones]
        return out

    @classmethod
    def from_dict(cls, data: Any, base: MotionSettings | None = None) -> MotionSettings:
        """``base`` (default: the defaults) with the keys of ``data`` changed; a partial dict
        changes only what it names. ``zones``, when given, replaces the whole list."""
        if not isinstance(data, dict):
            raise SettingsError("", "motion settings must be an object")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise SettingsError(str(key), "unknown field")
        changes = dict(data)
        if "zones" in changes:
            raw = changes["zones"]
            if isinstance(raw, (str, bytes, dict)) or not isinstance(raw, (list, tuple)):
                raise SettingsError("zones", "must be a list")
            zones = []
            for i, item in enumerate(raw):
                try:
                    zones.append(item if isinstance(item, Zone) else Zone.from_dict(item))
                except SettingsError as exc:
                    raise _in_zone(i, exc) from None
            changes["zones"] = tuple(zones)
        return replace(base or cls(), **changes)


def _in_zone(index: int, exc: SettingsError) -> SettingsError:
    inner = f".{exc.field}" if exc.field else ""
    return SettingsError(f"zones[{index}]{inner}", exc.message)


def _check_zones(zones: Any) -> tuple[Zone, ...]:
    if isinstance(zones, (str, bytes, dict)) or not isinstance(zones, (list, tuple)):
        raise SettingsError("zones", "must be a list")
    if len(zones) > MAX_ZONES:
        raise SettingsError("zones", f"at most {MAX_ZONES} zones")
    names: set[str] = set()
    for i, zone in enumerate(zones):
        if not isinstance(zone, Zone):
            raise SettingsError(f"zones[{i}]", "must be a zone")
        if zone.kind == "include":
            if zone.name in names:
                raise SettingsError(f"zones[{i}].name", "include zone names must be unique")
            names.add(zone.name)
    return tuple(zones)
