"""Security tests run real attacks against a real station process (tests.support.station_process)."""

from __future__ import annotations

import pytest

from tests.support.station_process import StationProcess

TOKEN = "station-token-0123456789"


@pytest.fixture
def open_station(tmp_path):
    """Defaults: loopback, no token (what a new operator runs)."""
    with StationProcess(tmp_path, name="open") as station:
        yield station


@pytest.fixture
def token_station(tmp_path):
    """With a station token, Device Connect auto-approve and a Huawei AK/SK."""
    with StationProcess(tmp_path, name="locked", env={
            "RS_TOKEN": TOKEN, "RS_DC_AUTO_APPROVE": "true", "RS_DC_USER": "admin",
            "RS_HUAWEI_AK": "AKTEST0123456789", "RS_HUAWEI_SK": "sk-secret-0123456789"}) as station:
        yield station
