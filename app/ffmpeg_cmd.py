"""`ffmpeg_cmd` in the core's terms: the recorder parses and checks the template (it is the
one that applies it); here its complaint becomes an `InvalidInput` naming the field, so a bad
template is refused when the source is saved, never at record time.

The recorder's parser is an allow-list (a few encoder options, `-vf scale=W:H`, nothing
that names an input, an output, a format or a file). On top of it the core refuses, before
parsing, anything that looks like it reaches a file or a protocol: a protocol prefix
(`concat:`, `file:` ... see `app.uri_policy`), a filter that reads files (`movie=`,
`amovie=`, `subtitles=` ...), an over-long template or control characters. Two fences,
so that a later, looser parser does not open a hole by itself.
"""

from __future__ import annotations

import re

from app.errors import InvalidInput
from app.uri_policy import nested_protocol
from recorder.encoding import EncodeProfile, ProfileError, parse_ffmpeg_cmd

MAX_TEMPLATE_CHARS = 1024
# filters and options that read or write files, devices or other programs' sockets
FILE_NAMING = re.compile(
    r"(?i)(?<![a-z0-9_-])-*(?:a?movie|subtitles|ass|drawtext|textfile|fontfile|lut1d|lut3d|"
    r"haldclut|sendcmd|asendcmd|a?zmq|frei0r|ladspa|lv2|ocr|sofalizer|dnn_\w+|"
    r"ametadata|metadata|vidstab\w*|signature|stats_file|passlogfile|attach|"
    r"dump_attachment|filter_script|filter_complex_script|filter_complex|lavfi|"
    r"progress|report|vstats_file|sdp_file)\b")


def profile_of(template: str | None) -> EncodeProfile:
    """The encoding a source's recordings use; raise InvalidInput for a bad template."""
    if template:
        if len(template) > MAX_TEMPLATE_CHARS:
            raise InvalidInput(f"ffmpeg_cmd is longer than {MAX_TEMPLATE_CHARS} characters",
                               field="ffmpeg_cmd")
        if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", template):
            raise InvalidInput("ffmpeg_cmd holds control characters", field="ffmpeg_cmd")
        prefix = nested_protocol(template)
        if prefix:
            raise InvalidInput(f"ffmpeg_cmd: {prefix!r} names a protocol; the template may "
                               "only say how to encode", field="ffmpeg_cmd")
        found = FILE_NAMING.search(template)
        if found:
            raise InvalidInput(f"ffmpeg_cmd: {found.group(0)!r} reaches files or other programs; the "
                               "template may only say how to encode", field="ffmpeg_cmd")
    try:
        return parse_ffmpeg_cmd(template)
    except ProfileError as exc:
        raise InvalidInput(str(exc), field="ffmpeg_cmd") from None
