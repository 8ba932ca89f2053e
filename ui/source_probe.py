""""Test connection": open an address the way the station would, wait for the first picture,
close again. Blocking (it runs on a worker thread of the dialog) and bounded in time: the
inputs' own open/read timeouts plus an overall deadline for a stream that never sends a
keyframe. No Qt here."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import av
import numpy as np

from app.schemas import mask_uri_password
from recorder.frames import decode_keyframe, frame_to_rgb
from recorder.inputs import InputError, PacketInput, open_input
from recorder.picture import PictureInput, PictureSpec

PROBE_TIMEOUT_S = 15.0


class ProbeError(Exception):
    """The address gave no picture; the message says why, for the operator."""


@dataclass(frozen=True)
class ProbeResult:
    rgb: np.ndarray
    detail: str  # "640×360 · h264 · 25 fps"
    seconds: float


def probe(target: str | PictureSpec, timeout: float = PROBE_TIMEOUT_S) -> ProbeResult:
    """The first picture of a URI (see `recorder.inputs`) or an HTTP snapshot camera."""
    started = time.monotonic()
    try:
        source: PacketInput = (PictureInput(target, timeout=min(timeout, 10.0))
                               if isinstance(target, PictureSpec) else open_input(target))
    except InputError as exc:
        raise ProbeError(_hide_password(friendly(str(exc)), target)
                         or "the address cannot be opened") from None
    try:
        rgb = _first_picture(source, started + timeout)
        return ProbeResult(rgb, _describe(source, rgb), time.monotonic() - started)
    except (InputError, av.FFmpegError, OSError) as exc:
        raise ProbeError(_hide_password(f"reading failed: {friendly(str(exc))}", target)) from None
    finally:
        try:
            source.close()
        except (av.FFmpegError, OSError, ValueError):
            pass


def _first_picture(source: PacketInput, deadline: float) -> np.ndarray:
    ctx = source.video.codec_context
    seen_keyframe = False
    for packet, _arrived in source.packets(threading.Event()):
        if time.monotonic() > deadline:
            break
        if packet.stream is not source.video or not (seen_keyframe or packet.is_keyframe):
            continue
        seen_keyframe = True
        if ctx.is_decoder:  # a demuxed stream: its own decoder knows every parameter
            frames = ctx.decode(packet)
            if frames:
                return frame_to_rgb(frames[0])
        else:  # the test pattern and snapshot cameras hand out encoded template packets
            rgb = decode_keyframe(bytes(packet), ctx.codec.canonical_name, ctx.extradata)
            if rgb is not None:
                return rgb
    raise ProbeError("the stream sent no picture in time" if time.monotonic() > deadline
                     else "the stream ended before its first picture")


def _describe(source: PacketInput, rgb: np.ndarray) -> str:
    ctx = source.video.codec_context
    width, height = ctx.width or rgb.shape[1], ctx.height or rgb.shape[0]
    parts = [f"{width}×{height}", ctx.codec.canonical_name]
    if isinstance(source, PictureInput):
        parts.append(f"a picture every {source.spec.interval:g} s")
    else:
        rate = source.video.average_rate or source.video.guessed_rate
        if rate:
            parts.append(f"{float(rate):.3g} fps")
    if source.audio is not None:
        parts.append(f"audio {source.audio.codec_context.codec.name}")
    return " · ".join(parts)


def friendly(message: str) -> str:
    """FFmpeg's error text without the errno number and the appended log line."""
    message = re.sub(r"^\[Errno -?\d+\]\s*", "", message.split("; last error log:")[0])
    return message[:1].upper() + message[1:]


def _hide_password(message: str, target: str | PictureSpec) -> str:
    if isinstance(target, str):
        bare = target.split("#", 1)[0]
        return message.replace(bare, mask_uri_password(bare) or bare)
    return message
