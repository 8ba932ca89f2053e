"""A TCP proxy in front of a station: the network edge of the sync tests.

It logs each request it forwards (method, path, Content-Range) and can break one upload off
after N body bytes, the way a network failure would:
- `drop`: both sides are closed; the sender sees a reset and retries at once;
- `hold`: only the station's side is closed; the sender is kept waiting for an answer that
  never comes (until the test stops the sending station).
The station's side gets exactly N bytes, then a pause, then the close, so it has stored them.
The sync client opens one connection per request, so each connection carries one request.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field


@dataclass
class Cut:
    path_part: str
    after: int
    mode: str  # "drop" | "hold"
    done: threading.Event = field(default_factory=threading.Event)


class CuttingProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = 0
        self.requests: list[tuple[str, str, str | None]] = []
        self._cuts: list[Cut] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="proxy", daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def start(self) -> "CuttingProxy":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def arm(self, path_part: str, after: int, mode: str) -> Cut:
        """Break off the next PUT whose path contains `path_part` after `after` body bytes;
        the returned cut's `done` is set once it happened."""
        cut = Cut(path_part, after, mode)
        self._cuts.append(cut)
        return cut

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            up_writer.close()
            writer.close()
            return
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        headers = {k.strip().lower(): v.strip() for k, v in
                   (line.split(":", 1) for line in lines[1:] if ":" in line)}
        self.requests.append((method, path, headers.get("content-range")))
        cut = next((c for c in self._cuts if method == "PUT" and c.path_part in path), None)
        if cut is not None:
            self._cuts.remove(cut)
        up_writer.write(head)
        answer = asyncio.ensure_future(self._pipe(up_reader, writer))
        sent = 0
        try:
            while data := await reader.read(65536):
                if cut is None:
                    up_writer.write(data)
                    await up_writer.drain()
                    continue
                if sent < cut.after:
                    part = data[: cut.after - sent]
                    up_writer.write(part)
                    await up_writer.drain()
                    sent += len(part)
                    if sent >= cut.after:
                        await asyncio.sleep(0.5)  # the station stores what it got ...
                        answer.cancel()
                        up_writer.close()  # ... then its connection breaks mid-body
                        cut.done.set()
                        if cut.mode == "drop":
                            break
                # "hold": swallow the rest; the sender waits for an answer
        except ConnectionError:
            pass
        finally:  # the client hung up: it has its answer, or gave up on it
            answer.cancel()
            up_writer.close()
            writer.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass
