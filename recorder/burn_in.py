"""A copy of an exported MP4 with the camera's name and the wall-clock time drawn into every
picture: what an evidence package offers beside the byte-exact originals, for a viewer whose
player shows neither.

Re-encoded (H.264, every frame decoded and drawn on), so it is a copy *made from* the
evidence, never the evidence: the package names it `*-burned-in.mp4` and keeps the original.
The text is drawn with Pillow (`recorder.imaging.burn_text`: FFmpeg's drawtext filter is not
in PyAV's build), outlined so it reads on any picture. Video only: the original keeps the
sound. The time of each frame is the export's `begin` plus the frame's presentation time
(the export's edit list puts `begin` at zero); frames before zero (the keyframe group the
cut starts with) are decoded but not written, as a player would not show them.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Callable

import av

from recorder.export import ExportCancelled, ExportError
from recorder.imaging import burn_text

CHECK_EVERY = 25  # frames between progress reports and cancel checks
CRF = "20"


def burn_in(source: Path, out_path: Path, begin_s: float, label: Callable[[float], str], *,
            progress: Callable[[float], None] | None = None,
            cancelled: Callable[[], bool] | None = None) -> int:
    """Write `source` again to `out_path` with `label(epoch seconds)` drawn bottom-left of
    each frame; returns the frames written. Raises ExportError (no video), ExportCancelled
    (`cancelled()` turned true; the partial file is removed)."""
    try:
        return _burn_in(source, out_path, begin_s, label, progress, cancelled)
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise


def _burn_in(source: Path, out_path: Path, begin_s: float, label: Callable[[float], str],
             progress: Callable[[float], None] | None,
             cancelled: Callable[[], bool] | None) -> int:
    with av.open(str(source)) as container:
        if not container.streams.video:
            raise ExportError(f"{source.name} holds no video to draw on")
        video = container.streams.video[0]
        rate = video.average_rate or Fraction(25)
        duration = float(container.duration or 0) / av.time_base
        written = 0
        with av.open(str(out_path), "w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=rate,
                                    options={"crf": CRF, "preset": "veryfast"})
            width, height = video.codec_context.width, video.codec_context.height
            stream.width, stream.height = width - width % 2, height - height % 2
            stream.pix_fmt = "yuv420p"
            stream.time_base = video.time_base
            size = max(12, stream.height // 22)
            for frame in container.decode(video):
                if frame.pts is None or frame.time is None or frame.time < 0:
                    continue
                pixels = frame.to_ndarray(format="rgb24")[:stream.height, :stream.width].copy()
                burn_text(pixels, label(begin_s + frame.time),
                          (size // 2, stream.height - size // 2), size,
                          fill=(255, 255, 255), outline=(0, 0, 0))
                drawn = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(
                    format="yuv420p")
                drawn.pts, drawn.time_base = frame.pts, frame.time_base
                out.mux(stream.encode(drawn))
                written += 1
                if written % CHECK_EVERY == 0:
                    if cancelled is not None and cancelled():
                        raise ExportCancelled()
                    if progress is not None and duration > 0:
                        progress(min(1.0, frame.time / duration))
            out.mux(stream.encode(None))
    if not written:
        raise ExportError(f"{source.name}: no picture to draw on")
    if progress is not None:
        progress(1.0)
    return written
