"""`ffmpeg_cmd`: ffmpeg-style output options for a source's recordings.

The template is parsed with shell-word rules (never executed by a shell) and checked against
the options the station supports, so a bad template is refused when the source is saved,
never at record time. An optional `ffmpeg -i {input} ... {output}` wrapper is accepted.
"""

from __future__ import annotations

import shlex

from app.errors import InvalidInput

# option -> takes a value
SUPPORTED = {
    "-c:v": True, "-vcodec": True, "-b:v": True, "-crf": True, "-preset": True, "-g": True,
    "-r": True, "-vf": True, "-an": False, "-c:a": True, "-acodec": True, "-b:a": True,
    "-tune": True, "-profile:v": True, "-pix_fmt": True, "-maxrate": True, "-bufsize": True,
    "-c": True, "-codec": True, "-y": False,
}
VIDEO_CODECS = {"copy", "libx264", "h264", "libx265", "hevc", "mjpeg"}
AUDIO_CODECS = {"copy", "aac"}


def parse_ffmpeg_cmd(template: str | None) -> dict[str, str | bool]:
    """Return the options as a dict; raise InvalidInput naming the first bad option."""
    if not template or not template.strip():
        return {}
    try:
        words = shlex.split(template)
    except ValueError as exc:
        raise InvalidInput(f"ffmpeg_cmd cannot be parsed: {exc}", field="ffmpeg_cmd") from None
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
        if word not in SUPPORTED:
            raise InvalidInput(f"ffmpeg_cmd: unsupported option {word!r}", field="ffmpeg_cmd")
        if SUPPORTED[word]:
            if i + 1 >= len(words):
                raise InvalidInput(f"ffmpeg_cmd: option {word!r} needs a value", field="ffmpeg_cmd")
            options[word] = words[i + 1]
            i += 2
        else:
            options[word] = True
            i += 1
    vcodec = options.get("-c:v") or options.get("-vcodec") or options.get("-c")
    if isinstance(vcodec, str) and vcodec not in VIDEO_CODECS:
        raise InvalidInput(f"ffmpeg_cmd: unsupported video codec {vcodec!r}", field="ffmpeg_cmd")
    acodec = options.get("-c:a") or options.get("-acodec")
    if isinstance(acodec, str) and acodec not in AUDIO_CODECS:
        raise InvalidInput(f"ffmpeg_cmd: unsupported audio codec {acodec!r}", field="ffmpeg_cmd")
    return options
