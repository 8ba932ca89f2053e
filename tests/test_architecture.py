"""The layering rules hold: import-linter's contracts from pyproject.toml."""

import shutil
import subprocess
import sys
import typing
from pathlib import Path


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    result = subprocess.run([lint], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "13 kept, 0 broken" in result.stdout


# The packages whose classes are services: the domain services and the rooms beside them.
SERVICE_ROOMS = ("app.services.", "app.recordings.", "app.site.", "app.dialects.")


def _named_types(hint) -> set:
    """Every class a return hint names: `list[Record] | None` -> {list, Record, NoneType}."""
    if isinstance(hint, (list, tuple)):
        return set().union(*(_named_types(h) for h in hint))
    found = {hint} if isinstance(hint, type) else set()
    for arg in typing.get_args(hint):
        found |= _named_types(arg)
    return found


def test_the_station_s_services_answer_schemas_never_table_rows():
    """Front ends get the service layer's public shapes (app.schemas), never an ORM row
    that a dialect would serialise itself (issue #14: RtcJobService used to)."""
    from sqlmodel import SQLModel

    from app.station import Station

    tables = {cls for cls in SQLModel.__subclasses__() if getattr(cls, "__table__", None) is not None}
    assert {"RtcJob", "Record", "Source"} <= {cls.__name__ for cls in tables}
    checked, leaks = 0, []
    for name, kind in typing.get_type_hints(Station).items():
        if not getattr(kind, "__module__", "").startswith(SERVICE_ROOMS):
            continue
        for method_name in dir(kind):
            method = getattr(kind, method_name)
            if method_name.startswith("_") or not callable(method):
                continue
            try:
                returns = typing.get_type_hints(method).get("return")
            except (NameError, TypeError):  # a hint only a type checker resolves
                continue
            checked += 1
            if _named_types(returns) & tables:
                leaks.append(f"station.{name}.{method_name} -> {returns}")
    assert checked > 50 and not leaks, leaks
