"""Looking at media without recording it: the first picture an address gives ("Test
connection") and the picture size of a file on disk.

PyAV stays in the recorder (an import-linter contract): the service layer asks here and gets
plain values back. `first_picture` opens its own connection, the way a reader would, and
closes it again; it is blocking and bounded in time (the inputs' own open and read timeouts,
plus an overall deadline for a stream that never sends a keyframe). Its `InputError`s speak to
the operator who typed the address (FFmpeg's own words: "Connection refused", "401"); their
`__cause__` is what `recorder.inputs.public_reason` classifies for anyone else.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from recorder.frames import decode_keyframe, frame_to_rgb
from recorder.inputs import InputError, PacketInput, RefusedInput, open_input
from recorder.outgoing import OutgoingPolicy
from recorder.picture import PictureInput, PictureSpec

PROBE_TIMEOUT_S = 15.0


class NoPicture(InputError):
    """The input opened but gave no picture: it ended first, or the deadline passed."""


@dataclass(frozen=True)
class FirstPicture:
    """The first decoded picture of an input and what the input is."""

    rgb: np.ndarray
    codec: str
    width: int
    height: int
    fps: float | None        # a stream's frame rate, when it tells
    interval: float | None   # a snapshot camera: seconds between two pictures
    audio: str | None        # the audio codec, if the input has audio
    seconds: float           # from opening to the first picture


def first_picture(target: str | PictureSpec, timeout: float = PROBE_TIMEOUT_S,
                  policy: OutgoingPolicy | None = None) -> FirstPicture:
    """The first picture of a URI (see `recorder.inputs`) or of an HTTP snapshot camera.
    The URI is opened as given: which URIs may be opened is the caller's policy, and where
    it may connect `policy`'s (recorder.outgoing). Raises `InputError` with a message for
    the operator."""
    started = time.monotonic()
    try:
        source: PacketInput = (PictureInput(target, timeout=min(timeout, 10.0), policy=policy)
                               if isinstance(target, PictureSpec) else open_input(target, policy))
    except RefusedInput:
        raise  # the policy's reason as it is: nothing was opened
    except InputError as exc:
        raise InputError(friendly(str(exc)) or "the address cannot be opened") \
            from (exc.__cause__ or exc)
    try:
        rgb = _decode_first(source, started + timeout)
        return _described(source, rgb, time.monotonic() - started)
    except NoPicture:
        raise
    except (InputError, av.FFmpegError, OSError) as exc:
        cause = exc.__cause__ if isinstance(exc, InputError) and exc.__cause__ else exc
        raise InputError(f"reading failed: {friendly(str(exc))}") from cause
    finally:
        try:
            source.close()
        except (av.FFmpegError, OSError, ValueError):
            pass


def _decode_first(source: PacketInput, deadline: float) -> np.ndarray:
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
    raise NoPicture("the stream sent no picture in time" if time.monotonic() > deadline
                     else "the stream ended before its first picture")


def _described(source: PacketInput, rgb: np.ndarray, seconds: float) -> FirstPicture:
    ctx = source.video.codec_context
    fps = interval = None
    if isinstance(source, PictureInput):
        interval = source.spec.interval
    else:
        rate = source.video.average_rate or source.video.guessed_rate
        fps = float(rate) if rate else None
    audio = source.audio.codec_context.codec.name if source.audio is not None else None
    return FirstPicture(rgb=rgb, codec=ctx.codec.canonical_name, width=ctx.width or rgb.shape[1],
                        height=ctx.height or rgb.shape[0], fps=fps, interval=interval,
                        audio=audio, seconds=seconds)


def friendly(message: str) -> str:
    """FFmpeg's error text without the errno number and the appended log line."""
    message = re.sub(r"^\[Errno -?\d+\]\s*", "", message.split("; last error log:")[0])
    return message[:1].upper() + message[1:]


def video_size(path: str | Path | None) -> tuple[int | None, int | None]:
    """Width and height of a file's first video stream; (None, None) when there is none or
    the file cannot be read."""
    try:
        with av.open(str(path)) as container:
            ctx = container.streams.video[0].codec_context
            return ctx.width, ctx.height
    except (av.FFmpegError, OSError, IndexError, TypeError):
        return None, None
