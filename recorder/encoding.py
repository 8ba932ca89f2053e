"""How a recording is encoded: stream copy (the default) or an `EncodeProfile` that says
what to re-encode and how.

A source's `ffmpeg_cmd` is written the way operators know from ffmpeg (`-c:v libx264
-preset veryfast -b:v 2M -vf scale=1280:-2 -an`, optionally wrapped as `ffmpeg -i {input}
... {output}`). It is parsed with shell-word rules, never executed, and every option is
checked here, so a bad template is refused when the source is saved, with a message naming
the option, never discovered at record time.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace
from fractions import Fraction

VIDEO_ENCODERS = {"libx264": "libx264", "h264": "libx264", "libx265": "libx265",
                  "hevc": "libx265", "h265": "libx265", "mjpeg": "mjpeg"}
AUDIO_ENCODERS = {"aac": "aac"}
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow", "placebo")
X264_TUNES = ("film", "animation", "grain", "stillimage", "fastdecode", "zerolatency", "psnr",
              "ssim")
H264_PROFILES = ("baseline", "main", "high", "high10", "high422", "high444")
PIX_FMTS = ("yuv420p", "yuvj420p", "yuv422p", "yuv444p")
BITRATE = re.compile(r"^\d+(\.\d+)?[kKmMgG]?$")
# The RTC `select_stream_type` levels: output height, width follows the aspect ratio.
SCALE_LEVELS = {"HD": 720, "SD": 480, "LD": 360}

# option -> takes a value
OPTIONS = {
    "-c": True, "-codec": True, "-c:v": True, "-vcodec": True, "-c:a": True, "-acodec": True,
    "-b:v": True, "-crf": True, "-preset": True, "-tune": True, "-profile:v": True, "-g": True,
    "-r": True, "-vf": True, "-filter:v": True, "-pix_fmt": True, "-maxrate": True,
    "-bufsize": True, "-an": False, "-b:a": True, "-y": False,
}
# options that only mean something when video is re-encoded
VIDEO_ENCODE_OPTIONS = ("-b:v", "-crf", "-preset", "-tune", "-profile:v", "-g", "-r", "-vf",
                        "-filter:v", "-pix_fmt", "-maxrate", "-bufsize")


class ProfileError(ValueError):
    """An `ffmpeg_cmd` the station cannot apply; `option` names the culprit."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class EncodeProfile:
    """What to do with a source's packets on the way into a file."""

    video: str = "copy"                  # "copy" or an encoder name (libx264, libx265, mjpeg)
    audio: str = "copy"                  # "copy", "aac" or "none"
    width: int | None = None             # scale target; -1/-2 keep the aspect ratio
    height: int | None = None
    rate: Fraction | None = None         # output frame rate (frames above it are dropped)
    gop: int | None = None
    pix_fmt: str = "yuv420p"
    video_options: dict[str, str] = field(default_factory=dict)  # passed to the encoder
    audio_bitrate: str | None = None

    @property
    def copies_video(self) -> bool:
        return self.video == "copy"

    @property
    def keeps_audio(self) -> bool:
        return self.audio != "none"

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """The encoded picture size for an input of `width`x`height` (ffmpeg's -1/-2 rules)."""
        w, h = self.width, self.height
        if w is None and h is None:
            w, h = width, height
        elif w is None or w < 0:
            mult = 2 if w in (None, -2) else 1
            w = max(mult, round(width * h / height / mult) * mult)
        elif h is None or h < 0:
            mult = 2 if h in (None, -2) else 1
            h = max(mult, round(height * w / width / mult) * mult)
        if self.pix_fmt in ("yuv420p", "yuvj420p"):  # 4:2:0 needs even sizes
            w, h = w + w % 2, h + h % 2
        return w, h


COPY = EncodeProfile()


def scaled(level: str, base: EncodeProfile = COPY) -> EncodeProfile:
    """The profile of an RTC `select_stream_type` level: libx264 at that height."""
    height = SCALE_LEVELS[level]
    video = base.video if not base.copies_video else "libx264"
    options = {"preset": "veryfast", **base.video_options}
    return replace(base, video=video, width=-2, height=height, video_options=options)


def parse_ffmpeg_cmd(template: str | None) -> EncodeProfile:
    """Parse `ffmpeg_cmd`; raise ProfileError naming the first option the station refuses."""
    if not template or not template.strip():
        return COPY
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise ProfileError(f"ffmpeg_cmd cannot be parsed: {exc}") from None
    return _profile(_options(words))


def _options(words: list[str]) -> dict[str, str | bool]:
    if words and words[0] in ("ffmpeg", "ffmpeg.exe"):
        words = words[1:]
    if words and words[-1] == "{output}":
        words = words[:-1]
    options: dict[str, str | bool] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word == "-i" and i + 1 < len(words) and words[i + 1] == "{input}":
            i += 2
            continue
        if word not in OPTIONS:
            raise ProfileError(f"ffmpeg_cmd: unsupported option {word!r}", word)
        if OPTIONS[word]:
            if i + 1 >= len(words) or (words[i + 1].startswith("-") and word != "-vf"
                                       and not _number(words[i + 1])):
                raise ProfileError(f"ffmpeg_cmd: option {word!r} needs a value", word)
            options[word] = words[i + 1]
            i += 2
        else:
            options[word] = True
            i += 1
    return options


def _number(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.\d+)?", text))


def _profile(opts: dict[str, str | bool]) -> EncodeProfile:
    both = opts.get("-c") or opts.get("-codec")
    vname = next((o for o in ("-c:v", "-vcodec", "-c", "-codec") if o in opts), "-c:v")
    aname = next((o for o in ("-c:a", "-acodec") if o in opts), "-c:a")
    vcodec = opts.get("-c:v") or opts.get("-vcodec") or both
    acodec = opts.get("-c:a") or opts.get("-acodec") or (both if both == "copy" else None)
    encodes_video = [o for o in VIDEO_ENCODE_OPTIONS if o in opts]
    if vcodec is None:
        vcodec = "libx264" if encodes_video else "copy"
    elif vcodec != "copy":
        if vcodec not in VIDEO_ENCODERS:
            raise ProfileError(f"ffmpeg_cmd: {vname} {vcodec!r} is not supported; use copy, "
                               f"{', '.join(sorted(VIDEO_ENCODERS))}", vname)
        vcodec = VIDEO_ENCODERS[vcodec]
    if vcodec == "copy" and encodes_video:
        raise ProfileError(f"ffmpeg_cmd: {encodes_video[0]} needs re-encoding and cannot be "
                           "combined with -c:v copy", encodes_video[0])
    audio = "none" if opts.get("-an") else (acodec or "copy")
    if audio not in ("copy", "none") and audio not in AUDIO_ENCODERS:
        raise ProfileError(f"ffmpeg_cmd: {aname} {audio!r} is not supported; use copy or aac",
                           aname)
    if opts.get("-b:a") and audio != "aac":
        raise ProfileError("ffmpeg_cmd: -b:a needs -c:a aac", "-b:a")
    width, height = _scale(opts.get("-vf") or opts.get("-filter:v"))
    video_options: dict[str, str] = {}
    for option, key, check in (("-b:v", "b", _bitrate), ("-maxrate", "maxrate", _bitrate),
                               ("-bufsize", "bufsize", _bitrate), ("-crf", "crf", _crf),
                               ("-preset", "preset", _choice(X264_PRESETS)),
                               ("-tune", "tune", _choice(X264_TUNES)),
                               ("-profile:v", "profile", _choice(H264_PROFILES))):
        value = opts.get(option)
        if isinstance(value, str):
            check(option, value)
            video_options[key] = value
    if vcodec == "mjpeg" and set(video_options) & {"crf", "preset", "tune", "profile"}:
        raise ProfileError(f"ffmpeg_cmd: -crf/-preset/-tune/-profile:v need an x264/x265 "
                           f"codec, not {vname} mjpeg", vname)
    pix_fmt = str(opts.get("-pix_fmt", "yuvj420p" if vcodec == "mjpeg" else "yuv420p"))
    _choice(PIX_FMTS)("-pix_fmt", pix_fmt)
    if isinstance(opts.get("-b:a"), str):
        _bitrate("-b:a", str(opts["-b:a"]))
    return EncodeProfile(video=vcodec, audio=audio, width=width, height=height,
                         rate=_rate(opts.get("-r")), gop=_positive_int("-g", opts.get("-g")),
                         pix_fmt=pix_fmt, video_options=video_options,
                         audio_bitrate=opts.get("-b:a") if isinstance(opts.get("-b:a"), str)
                         else None)


def _bitrate(option: str, value: str) -> None:
    if not BITRATE.match(value):
        raise ProfileError(f"ffmpeg_cmd: {option} {value!r} is not a bit rate (like 2M or 800k)",
                           option)


def _crf(option: str, value: str) -> None:
    if not _number(value) or not 0 <= float(value) <= 51:
        raise ProfileError(f"ffmpeg_cmd: {option} must be a number from 0 to 51", option)


def _choice(allowed: tuple[str, ...]):
    def check(option: str, value: str) -> None:
        if value not in allowed:
            raise ProfileError(f"ffmpeg_cmd: {option} {value!r} is not one of "
                               f"{', '.join(allowed)}", option)
    return check


def _positive_int(option: str, value) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"\d+", str(value)) or int(value) <= 0:
        raise ProfileError(f"ffmpeg_cmd: {option} must be a positive integer", option)
    return int(value)


def _rate(value) -> Fraction | None:
    if value is None:
        return None
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        rate = Fraction(0)
    if not 0 < rate <= 240:
        raise ProfileError("ffmpeg_cmd: -r must be a frame rate like 25 or 30000/1001", "-r")
    return rate


def _scale(value) -> tuple[int | None, int | None]:
    if value is None:
        return None, None
    match = re.fullmatch(r"scale=(?:w=)?(-?\d+)[:x](?:h=)?(-?\d+)", str(value))
    if not match:
        raise ProfileError(f"ffmpeg_cmd: -vf {value!r} is not supported; the only filter is "
                           "scale=W:H (-1 or -2 keep the aspect ratio)", "-vf")
    w, h = int(match.group(1)), int(match.group(2))
    for n in (w, h):
        if n == 0 or n < -2 or n > 8192:
            raise ProfileError("ffmpeg_cmd: -vf scale sizes must be 1..8192, -1 or -2", "-vf")
    if w < 0 and h < 0:
        raise ProfileError("ffmpeg_cmd: -vf scale needs at least one fixed size", "-vf")
    return w, h
