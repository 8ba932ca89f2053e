"""The station's HTTP API: one aiohttp server on its own thread and event loop, serving the
control dialects over the same `Station` services. Dialects are thin adapters: they parse
requests, call services through `asyncio.to_thread`, and translate results and errors."""
