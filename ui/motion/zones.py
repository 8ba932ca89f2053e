"""The zones the operator draws, as the editor holds them while they change: mutable, in
normalised picture coordinates (0..1, so a camera's resolution change keeps them), turned to
and from the plain dicts `MotionService.change` takes and `MotionSettings.to_dict` gives.

The GUI never imports the detector library: it speaks the settings' JSON form, which the
service validates (the one place the rules about zones are decided); the limits here only
keep the editor from offering what the service would refuse anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

INCLUDE, EXCLUDE = "include", "exclude"
MIN_POINTS, MAX_POINTS = 3, 64
NAME_MAX = 40

Point = tuple[float, float]


@dataclass
class DrawnZone:
    """One polygon: an include zone (named, with its own sensitivity or None for the
    source's) or an exclude mask."""

    kind: str
    points: list[Point]
    name: str = ""
    sensitivity: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind,
                "points": [[round(x, 4), round(y, 4)] for x, y in self.points],
                "sensitivity": self.sensitivity if self.kind == INCLUDE else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DrawnZone":
        points = [(float(p[0]), float(p[1])) for p in data.get("points", ())]
        kind = EXCLUDE if data.get("kind") == EXCLUDE else INCLUDE
        sensitivity = data.get("sensitivity")
        return cls(kind, points, str(data.get("name") or ""),
                   int(sensitivity) if sensitivity is not None else None)

    def label(self) -> str:
        """How the zone list names it: 'door (include, sensitivity 70)', 'exclude mask 2'."""
        if self.kind == EXCLUDE:
            return f"{self.name or 'mask'} (exclude)"
        own = f", sensitivity {self.sensitivity}" if self.sensitivity is not None else ""
        return f"{self.name} (include{own})"


@dataclass
class ZoneSet:
    """The zones of one source, in drawing order, and the polygon being drawn now."""

    zones: list[DrawnZone] = field(default_factory=list)
    drawing: list[Point] = field(default_factory=list)

    def add_point(self, point: Point) -> bool:
        """Add a corner to the polygon being drawn; False when it has all it may have."""
        if len(self.drawing) >= MAX_POINTS:
            return False
        x, y = point
        self.drawing.append((min(1.0, max(0.0, x)), min(1.0, max(0.0, y))))
        return True

    def close(self, kind: str) -> DrawnZone | None:
        """Close the polygon being drawn into a new zone of `kind` (None: fewer than three
        corners, so nothing yet). Include zones get a name nobody has used yet."""
        if len(self.drawing) < MIN_POINTS:
            return None
        name = self.free_name("zone" if kind == INCLUDE else "mask")
        zone = DrawnZone(kind, list(self.drawing), name)
        self.zones.append(zone)
        self.drawing = []
        return zone

    def free_name(self, word: str) -> str:
        used = {z.name for z in self.zones}
        return next(f"{word} {n}" for n in range(1, len(used) + 2) if f"{word} {n}" not in used)

    def to_list(self) -> list[dict[str, Any]]:
        return [z.to_dict() for z in self.zones]

    @classmethod
    def from_list(cls, data: Iterable[dict[str, Any]]) -> "ZoneSet":
        return cls([DrawnZone.from_dict(d) for d in data])


def contains(points: list[Point], x: float, y: float) -> bool:
    """Whether (x, y) lies inside the polygon (even-odd rule): a click on a zone picks it."""
    inside = False
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside
