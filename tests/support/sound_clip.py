"""A short H.264 + AAC file made with PyAV from FFmpeg's test sources: pictures and sound as
the recorder writes them (a keyframe a second, no B-frames), for the playback tests and the
synchronised playback screenshot."""

from __future__ import annotations

from pathlib import Path

import av


def clip_with_sound(path: Path, seconds: float, *, source: str = "testsrc2",
                    size: tuple[int, int] = (320, 180), fps: int = 25) -> Path:
    """`seconds` of the lavfi `source` at `size` and `fps`, and a 440 Hz tone as AAC (48 kHz)."""
    width, height = size
    with av.open(str(path), "w") as out, \
            av.open(f"{source}=size={width}x{height}:rate={fps}", format="lavfi") as video, \
            av.open("sine=frequency=440:sample_rate=48000", format="lavfi") as sound:
        v = out.add_stream("libx264", rate=fps, options={"g": str(fps), "bf": "0"})
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        a = out.add_stream("aac", rate=48000)
        for index, frame in enumerate(video.decode(video=0)):
            if index >= seconds * fps:
                break
            frame.pts = None
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        for frame in sound.decode(audio=0):
            if frame.pts * frame.time_base >= seconds:
                break
            frame.pts = None
            out.mux(a.encode(frame))
        out.mux(a.encode(None))
    return path
