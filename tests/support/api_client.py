"""Waiting on a station through its native API in `aiohttp_client` tests: the test asks what
any client would ask, instead of reaching into the core."""

from __future__ import annotations

import asyncio


async def wait_online(client, source_id: int, timeout: float = 10.0) -> None:
    """Until GET /api/v1/source/{id} says the source is online."""
    for _ in range(round(timeout / 0.05)):
        body = await (await client.get(f"/api/v1/source/{source_id}")).json()
        if body["status"] == "online":
            return
        await asyncio.sleep(0.05)
    raise AssertionError("source never came online")
