"""What the layouts' API and GUI exchange: a layout in (`LayoutIn` to create, `LayoutChange`
to change some of it), a layout out, and the shapes' geometry for clients."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.layouts.shapes import MAX_GRID

MAX_NAME = 64
MAX_CELLS = MAX_GRID * MAX_GRID
# A cell shows a source (its id) or nothing (null, left empty on purpose). Strict: `true` or
# `"3"` is not a source id; the bound keeps a hostile number away from the database.
SourceCell = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] | None


def _name(value: Any) -> Any:
    """1-64 printable characters, outer spaces dropped: a name lands in menus, hotkey lists
    and the audit trail, where a control character or a bidi override could disguise it."""
    if not isinstance(value, str):
        return value  # pydantic's own type error
    value = value.strip()
    if not value.isprintable():
        raise ValueError("a layout name is printable characters only")
    return value


class LayoutIn(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"name": "Entrances", "shape": "1+5", "cells": [3, 1, None, 2, None, None]}]})
    name: str = Field(min_length=1, max_length=MAX_NAME)
    shape: str = Field(max_length=16, description="`1x1` .. `6x6` (columns x rows), `1+5`, "
                       "`1+7`, `2+8` or `1+12` (GET /api/v1/layout/shapes)")
    cells: list[SourceCell] | None = Field(
        default=None, max_length=MAX_CELLS,
        description="What each cell shows, in the shape's cell order: a source id, or null for "
                    "a cell left empty; as many as the shape has cells. Omitted: all empty.")

    @field_validator("name", mode="before")
    @classmethod
    def _checked_name(cls, value: Any) -> Any:
        return _name(value)


class LayoutChange(BaseModel):
    """Only the fields sent change. A new shape without `cells` keeps the cells in order
    (those beyond the new shape's count dropped, new ones empty)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [
        {"shape": "2x2", "cells": [1, 2, None, 4]}]})
    name: str | None = Field(default=None, min_length=1, max_length=MAX_NAME)
    shape: str | None = Field(default=None, max_length=16)
    cells: list[SourceCell] | None = Field(default=None, max_length=MAX_CELLS)

    @field_validator("name", mode="before")
    @classmethod
    def _checked_name(cls, value: Any) -> Any:
        return _name(value)


class LayoutOut(BaseModel):
    id: int
    name: str
    shape: str
    cells: list[int | None]
    created_utc: str | None
    updated_utc: str | None


class CellOut(BaseModel):
    row: int
    col: int
    row_span: int
    col_span: int


class ShapeOut(BaseModel):
    name: str
    rows: int
    cols: int
    cells: list[CellOut]
