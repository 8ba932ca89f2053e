"""Icons from `resources/icons` (our own SVGs), cached; a missing name gives an empty icon
rather than an error, so a typo costs a picture, not the window."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QIcon

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    path = ICONS / f"{name}.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()
