"""`GET /api/v1/storage` on the real app and services: the figures of both filesystems match
what the operating system says, `used_by_recordings_bytes` the files on disk, retention and
the floor the live settings; the route is in the OpenAPI document with its schema."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from api.app import create_app
from app.station import apply_settings
from tests.support.recordings import record_tag


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


async def test_storage_figures_follow_the_disk_the_records_and_the_settings(client, station):
    resp = await client.get("/api/v1/storage/")
    assert resp.status == 200 and resp.content_type == "application/json"
    empty = await resp.json()
    assert empty["used_by_recordings_bytes"] == 0 and empty["oldest_record"] is None
    assert empty["floor_mb"] == 0 and empty["same_filesystem"] is True
    assert empty["catalog"]["path"] == str(station.catalog.path)

    records = record_tag(station, "t")
    apply_settings(station, station.settings.model_copy(update={
        "disk_floor_mb": 5, "retention_days": 30, "retention_max_gb": 1.5}))
    body = await (await client.get("/api/v1/storage")).json()
    vfs = os.statvfs(station.settings.recordings_dir)
    storage = body["storage"]
    assert storage["path"] == str(station.settings.recordings_dir)
    assert storage["total_bytes"] == vfs.f_blocks * vfs.f_frsize
    assert abs(storage["free_bytes"] - vfs.f_bavail * vfs.f_frsize) < 64 << 20  # others write too
    assert storage["below_floor"] is False and body["floor_mb"] == 5
    assert body["used_by_recordings_bytes"] == sum(Path(r.location).stat().st_size for r in records)
    assert body["records_with_files"] == 2 and body["protected_records"] == 0
    oldest = min(records, key=lambda r: (r.begin_utc, r.id))
    assert body["oldest_record"]["id"] == oldest.id and body["oldest_record"]["tag_name"] == "t"
    assert body["retention"]["retention_days"] == 30
    assert body["retention"]["retention_max_gb"] == 1.5
    assert body["stopped_utc"] is None and body["stopped_reason"] is None

    # a floor above what the disk has: flagged
    apply_settings(station, station.settings.model_copy(update={
        "disk_floor_mb": (storage["free_bytes"] >> 20) + (1 << 20)}))
    body = await (await client.get("/api/v1/storage")).json()
    assert body["storage"]["below_floor"] is True and body["catalog"]["below_floor"] is True


async def test_storage_is_in_the_openapi_document(client):
    document = await (await client.get("/api/openapi.json")).json()
    operation = document["paths"]["/api/v1/storage"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    ref = schema["$ref"].rsplit("/", 1)[-1]
    fields = document["components"]["schemas"][ref]["properties"]
    assert {"storage", "catalog", "floor_mb", "used_by_recordings_bytes", "oldest_record",
            "retention"} <= set(fields)
    assert (await client.post("/api/v1/storage")).status == 405
