"""Cut a time range out of consecutive recorded files by stream copy.

An export is a copy, not a transcode: no frame is decoded. It has to start on a keyframe, so
it starts at the keyframe at or before `begin` and the MP4 muxer writes an edit list (`elst`)
that hides what lies before `begin`: the packets before it are given negative timestamps
(relative to `begin`), and FFmpeg's mp4 muxer (`use_editlist` auto, negative timestamps
allowed) turns the first packet's offset into the edit's media time. A player therefore
decodes from the keyframe and shows from `begin` on; nothing is re-encoded.

Each recorded file starts at zero at its record's `begin_utc` (recorder/timeline.py), so a
packet's place in the export is `file begin + packet time - begin`; files of one source
recorded one after another (rollovers) thus follow each other without a jump, and a real
pause between two records stays a pause. Should two files overlap by a rounding error, the
later one is nudged so timestamps only grow. Video and audio are copied alike (audio when the
first file has an audio stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import av

SCAN_PAST_END_S = 1.0  # audio interleaved a little after the last video packet still counts
PROGRESS_EVERY = 200   # packets between progress reports and cancel checks


class ExportError(Exception):
    """The range cannot be cut from these files (nothing in it, streams that do not match)."""


class ExportCancelled(Exception):
    """The caller asked to stop; the partial file has been removed."""


@dataclass(frozen=True)
class Piece:
    """One recorded file and the epoch second its time zero stands for."""

    path: Path
    begin_s: float


@dataclass(frozen=True)
class CutResult:
    path: Path
    begin_s: float      # epoch second shown first (the requested begin, or the footage's start)
    keyframe_s: float   # epoch second of the keyframe the copy starts with
    end_s: float        # epoch second after the last packet copied
    packets: int
    size_bytes: int


Progress = Callable[[float, float], None]  # (seconds of footage done, seconds in all)


def _same_kind(a: av.stream.Stream, b: av.stream.Stream) -> bool:
    ca, cb = a.codec_context, b.codec_context
    if ca.name != cb.name:
        return False
    if a.type == "video":
        return (ca.width, ca.height) == (cb.width, cb.height)
    return ca.sample_rate == cb.sample_rate


class _Writer:
    """The output file: one video and (maybe) one audio stream, timestamps only growing."""

    def __init__(self, out: av.container.OutputContainer, template: av.container.InputContainer):
        self.out = out
        self.templates = {"video": template.streams.video[0] if template.streams.video else None,
                          "audio": template.streams.audio[0] if template.streams.audio else None}
        self.streams = {kind: out.add_stream_from_template(s)
                        for kind, s in self.templates.items() if s is not None}
        self.last_dts: dict[str, int] = {}
        self.packets = 0

    def matching(self, container: av.container.InputContainer) -> dict[int, str]:
        """Input stream index → kind, for the streams this export carries."""
        found: dict[int, str] = {}
        for kind, template in self.templates.items():
            if template is None:
                continue
            streams = getattr(container.streams, kind)
            if not streams:
                continue
            if not _same_kind(template, streams[0]):
                raise ExportError(f"{container.name}: its {kind} stream differs from the first "
                                  "file's (codec or size changed): cannot copy both into one file")
            found[streams[0].index] = kind
        return found


def _first_piece(pieces: list[Piece], begin: float) -> int:
    """Index of the file holding `begin` (the last one starting at or before it), or 0."""
    index = 0
    for i, piece in enumerate(pieces):
        if piece.begin_s <= begin:
            index = i
    return index


def _open_later(piece: Piece) -> av.container.InputContainer | None:
    """A file after the first, or None when it cannot be read (yet): a recording that has
    only just started has no header on disk, and the range may reach into it."""
    try:
        return av.open(str(piece.path))
    except av.FFmpegError:
        return None


def cut(pieces: list[Piece], begin: float, end: float, out_path: Path, *,
        progress: Progress | None = None,
        cancelled: Callable[[], bool] | None = None) -> CutResult:
    """Write [begin, end) of `pieces` (consecutive files of one source, in order) to
    `out_path` as MP4. Times are epoch seconds. Raises ExportError when nothing of the range
    was recorded, ExportCancelled when `cancelled()` turns true (the file is removed)."""
    if not pieces or end <= begin:
        raise ExportError("nothing was recorded in this range")
    pieces = pieces[_first_piece(pieces, begin):]
    begin = max(begin, pieces[0].begin_s)
    try:
        return _cut(pieces, begin, end, out_path, progress, cancelled)
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise


def _cut(pieces: list[Piece], begin: float, end: float, out_path: Path,
         progress: Progress | None, cancelled: Callable[[], bool] | None) -> CutResult:
    keyframe_s: float | None = None
    end_s = begin
    done = 0
    try:
        first = av.open(str(pieces[0].path))
    except av.FFmpegError:
        raise ExportError(f"{pieces[0].path.name} cannot be read") from None
    with first, av.open(str(out_path), "w", format="mp4") as out:
        writer = _Writer(out, first)
        if not writer.streams:
            raise ExportError(f"{pieces[0].path.name} holds no audio or video")
        lead = "video" if "video" in writer.streams else "audio"
        for n, piece in enumerate(pieces):
            if piece.begin_s >= end:
                break
            container = first if n == 0 else _open_later(piece)
            if container is None:
                continue  # not readable (a record that has only just started): a pause
            try:
                kinds = writer.matching(container)
                if n == 0 and begin > piece.begin_s:
                    # The keyframe at or before `begin`: the demuxer seeks there for us.
                    stream = container.streams[next(i for i, k in kinds.items() if k == lead)]
                    container.seek(max(0, int((begin - piece.begin_s) / stream.time_base)),
                                   stream=stream, backward=True, any_frame=False)
                offsets: dict[str, int] = {}
                # Per packet maths in floats: Fraction arithmetic costs more than the copy.
                scales = {i: float(container.streams[i].time_base) for i in kinds}
                for packet in container.demux(list(container.streams[i] for i in kinds)):
                    if packet.dts is None or not packet.size:
                        continue
                    index = packet.stream_index
                    kind, scale = kinds[index], scales[index]
                    at = piece.begin_s + packet.dts * scale
                    if at >= end + SCAN_PAST_END_S:
                        break
                    if keyframe_s is None:
                        if kind != lead or not packet.is_keyframe:
                            continue  # nothing before the first keyframe can be shown
                        keyframe_s = at
                    if at < keyframe_s or at >= end:
                        continue
                    offset = offsets.get(kind)
                    if offset is None:  # this file's place in the export, nudged to grow
                        offset = round((piece.begin_s - begin) / scale)
                        last = writer.last_dts.get(kind)
                        if last is not None and packet.dts + offset <= last:
                            offset = last + 1 - packet.dts
                        offsets[kind] = offset
                    pts = packet.pts if packet.pts is not None else packet.dts
                    packet.dts += offset
                    packet.pts = pts + offset
                    writer.last_dts[kind] = packet.dts
                    end_s = max(end_s, at + (packet.duration or 0) * scale)
                    packet.stream = writer.streams[kind]
                    out.mux(packet)
                    writer.packets += 1
                    done += 1
                    if done % PROGRESS_EVERY == 0:
                        if cancelled is not None and cancelled():
                            raise ExportCancelled()
                        if progress is not None:
                            progress(min(at, end) - keyframe_s, end - keyframe_s)
            finally:
                if n:
                    container.close()
        if keyframe_s is None:
            raise ExportError("nothing was recorded in this range")
    if progress is not None:
        progress(end - keyframe_s, end - keyframe_s)
    return CutResult(path=out_path, begin_s=begin, keyframe_s=keyframe_s,
                     end_s=min(end_s, end),
                     packets=writer.packets, size_bytes=out_path.stat().st_size)
