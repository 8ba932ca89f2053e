"""Light and dark looks on Qt's Fusion style: the palette follows the desktop's colour
scheme (or `RS_THEME=light|dark`), and the style sheet only adds shapes and accents on top of
palette colours, so both schemes stay readable. The camera wall is always dark: pictures
read best on black."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from ui.icons import ICONS

STYLE = Path(__file__).resolve().parent.parent / "resources" / "style.qss"


def wants_dark(app: QGuiApplication) -> bool:
    choice = os.environ.get("RS_THEME", "").lower()
    if choice in ("light", "dark"):
        return choice == "dark"
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def dark_palette() -> QPalette:
    p = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#1e2228", QPalette.ColorRole.WindowText: "#e6e9ed",
        QPalette.ColorRole.Base: "#15181d", QPalette.ColorRole.AlternateBase: "#1b1f25",
        QPalette.ColorRole.ToolTipBase: "#2a2f37", QPalette.ColorRole.ToolTipText: "#e6e9ed",
        QPalette.ColorRole.Text: "#e6e9ed", QPalette.ColorRole.Button: "#2a2f37",
        QPalette.ColorRole.ButtonText: "#e6e9ed", QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: "#3b82c4", QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6cb2f0", QPalette.ColorRole.PlaceholderText: "#8a929c",
        QPalette.ColorRole.Mid: "#3a414b", QPalette.ColorRole.Midlight: "#323841",
        QPalette.ColorRole.Dark: "#101317", QPalette.ColorRole.Light: "#3d4450",
    }
    for role, colour in colours.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b737d"))
    return p


def light_palette() -> QPalette:
    p = QApplication.style().standardPalette()
    p.setColor(QPalette.ColorRole.Window, QColor("#f3f4f6"))
    p.setColor(QPalette.ColorRole.Base, QColor("#ffffff"))
    p.setColor(QPalette.ColorRole.AlternateBase, QColor("#f7f8fa"))
    p.setColor(QPalette.ColorRole.Highlight, QColor("#2b6cb0"))
    return p


def apply_theme(app: QApplication) -> bool:
    """Set style, palette and style sheet; returns True when dark."""
    app.setStyle("Fusion")
    dark = wants_dark(app)
    app.setPalette(dark_palette() if dark else light_palette())
    if STYLE.is_file():
        app.setStyleSheet(STYLE.read_text(encoding="utf-8").replace("@ICONS@", ICONS.as_posix()))
    app.setProperty("dark_theme", dark)
    return dark
