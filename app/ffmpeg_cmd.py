"""`ffmpeg_cmd` in the core's terms: the recorder parses and checks the template (it is the
one that applies it); here its complaint becomes an `InvalidInput` naming the field, so a bad
template is refused when the source is saved, never at record time."""

from __future__ import annotations

from app.errors import InvalidInput
from recorder.encoding import EncodeProfile, ProfileError, parse_ffmpeg_cmd


def profile_of(template: str | None) -> EncodeProfile:
    """The encoding a source's recordings use; raise InvalidInput for a bad template."""
    try:
        return parse_ffmpeg_cmd(template)
    except ProfileError as exc:
        raise InvalidInput(str(exc), field="ffmpeg_cmd") from None
