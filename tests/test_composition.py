"""The station is composed in one linear pass with constructor arguments only: app/station.py
never assigns an attribute of another object (no `sources.site = site` after construction,
no `setattr`), and the Station it hands out is frozen, so no front end rewires it either."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import app.station
from app.station import Station

SOURCE = Path(app.station.__file__)


def _assigned_attributes(tree: ast.AST) -> list[str]:
    """`x.attr = ...` (also augmented, annotated, and inside tuples) and `setattr(...)` calls,
    with their line; `self.attr` inside a class's own methods is the class's own state."""
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("setattr", "__setattr__"):
            found.append(f"line {node.lineno}: setattr")
        while targets:
            target = targets.pop()
            if isinstance(target, (ast.Tuple, ast.List)):
                targets.extend(target.elts)
            elif isinstance(target, ast.Attribute) and not (
                    isinstance(target.value, ast.Name) and target.value.id == "self"):
                found.append(f"line {node.lineno}: {ast.unparse(target)}")
    return found


def test_the_composition_assigns_no_attribute_of_another_object():
    assert _assigned_attributes(ast.parse(SOURCE.read_text())) == []


def test_the_scan_sees_a_wiring_assignment():  # the test above can fail
    wired = "def build():\n    sources.site = site\n    a.b, c = 1, 2\n    setattr(x, 'y', 1)\n"
    assert _assigned_attributes(ast.parse(wired)) == [
        "line 2: sources.site", "line 3: a.b", "line 4: setattr"]


def test_the_station_is_frozen_and_every_part_is_a_constructor_argument():
    assert Station.__dataclass_params__.frozen
    assert all(f.init for f in dataclasses.fields(Station))
    assert not hasattr(Station, "__post_init__")
    station = object.__new__(Station)
    with pytest.raises(dataclasses.FrozenInstanceError):
        station.sources = None
