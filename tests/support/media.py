"""Small media files made and read back by tests: a short H.264 clip to use as a file source,
and the timestamps of a recorded file's packets."""

from __future__ import annotations

from pathlib import Path

import av


def small_clip(path: Path, frames: int = 20) -> Path:
    """A 160x120, 10 fps H.264 file of FFmpeg's test pattern (2 s by default; MP4 or, by the
    suffix, another container such as MPEG-TS)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out, av.open("testsrc=size=160x120:rate=10", format="lavfi") as src:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for index, frame in enumerate(src.decode(video=0)):
            if index == frames:
                break
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def packet_times(path: str | Path, kind: str) -> list[float]:
    """Presentation times (s) of a file's `kind` ("video"/"audio") packets; [] without one."""
    with av.open(str(path)) as container:
        streams = getattr(container.streams, kind)
        if not streams:
            return []
        stream = streams[0]
        return [float(p.pts * stream.time_base) for p in container.demux(stream) if p.size]
