"""`GET /api/v1/device`: this computer's capture devices, from the same device service the
GUI's "Local camera" form asks (app.services.devices), documented in the OpenAPI schema and
closed to a client without the token like every other read."""

from __future__ import annotations

import pytest

from api.app import create_app
from app.services import devices
from app.station import build_station, start_station, stop_station
from tests.conftest import make_settings


@pytest.fixture
def dev(tmp_path, monkeypatch):
    """A /dev of our own: two nodes whose driver cannot be asked (so they are listed)."""
    folder = tmp_path / "dev"
    folder.mkdir()
    for name in ("video10", "video0", "null"):
        (folder / name).touch()
    monkeypatch.setattr(devices, "DEV_DIR", folder)
    return folder


async def test_the_local_devices_listed_as_the_gui_lists_them(aiohttp_client, station, dev):
    client = await aiohttp_client(create_app(station))
    resp = await client.get("/api/v1/device")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert body == [d.model_dump() for d in station.devices.list()]
    assert [(d["path"], d["uri"]) for d in body] == [
        (str(dev / "video0"), f"device://{dev}/video0"),
        (str(dev / "video10"), f"device://{dev}/video10")]
    schema = await (await client.get("/api/openapi.json")).json()
    assert "get" in schema["paths"]["/api/v1/device"]


async def test_the_devices_need_the_token_like_every_read(aiohttp_client, tmp_path, dev):
    st = build_station(make_settings(tmp_path, token="s3cret"))
    start_station(st)
    try:
        client = await aiohttp_client(create_app(st))
        assert (await client.get("/api/v1/device")).status == 401
        resp = await client.get("/api/v1/device", headers={"Authorization": "Bearer s3cret"})
        assert resp.status == 200 and len(await resp.json()) == 2
    finally:
        stop_station(st)
