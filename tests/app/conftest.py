"""The catalog and service tests run on both catalogs the station supports: its own SQLite
file and a PostgreSQL server (Debian's, started for the run by tests.support.postgres)."""

from __future__ import annotations

import pytest

from tests.conftest import backend_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str | None:
    return backend_url(request, request.param)
