"""`ffmpeg_cmd` templates: what the station accepts, and the message naming what it refuses."""

from __future__ import annotations

from fractions import Fraction

import pytest

from app.errors import InvalidInput
from app.schemas import SourceIn
from recorder.encoding import COPY, ProfileError, parse_ffmpeg_cmd, scaled
from tests.conftest import TESTSRC


def test_empty_template_is_stream_copy():
    assert parse_ffmpeg_cmd(None) == COPY and parse_ffmpeg_cmd("  ") == COPY
    assert parse_ffmpeg_cmd("-an") == COPY.__class__(audio="none")
    assert parse_ffmpeg_cmd("-c copy").copies_video


def test_a_full_template_maps_onto_an_encoding():
    profile = parse_ffmpeg_cmd("ffmpeg -i {input} -c:v libx264 -preset veryfast -b:v 2M -crf 23 "
                               "-g 50 -r 30000/1001 -vf scale=1280:-2 -c:a aac -b:a 96k {output}")
    assert profile.video == "libx264" and profile.audio == "aac" and profile.audio_bitrate == "96k"
    assert (profile.width, profile.height) == (1280, -2) and profile.gop == 50
    assert profile.rate == Fraction(30000, 1001)
    assert profile.video_options == {"b": "2M", "crf": "23", "preset": "veryfast"}
    assert profile.output_size(1920, 1080) == (1280, 720)
    # a video option alone means re-encoding with the default encoder, as in ffmpeg
    assert parse_ffmpeg_cmd("-vf scale=-2:480").video == "libx264"
    assert parse_ffmpeg_cmd("-c:v hevc").video == "libx265"


@pytest.mark.parametrize("template, option", [
    ("-filter_complex x", "-filter_complex"),
    ("-c:v vp9", "-c:v"),
    ("-c:a pcm_alaw", "-c:a"),
    ("-c:v copy -vf scale=640:360", "-vf"),
    ("-vf hflip", "-vf"),
    ("-vf scale=-1:-1", "-vf"),
    ("-crf 99", "-crf"),
    ("-preset warp", "-preset"),
    ("-b:v lots", "-b:v"),
    ("-r 0", "-r"),
    ("-g -an", "-g"),
    ("-b:a 64k", "-b:a"),
])
def test_unsupported_options_are_named(template, option):
    with pytest.raises(ProfileError) as info:
        parse_ffmpeg_cmd(template)
    assert info.value.option == option and option in str(info.value)


def test_unbalanced_quotes_are_refused():
    with pytest.raises(ProfileError, match="cannot be parsed"):
        parse_ffmpeg_cmd("-vf 'scale=1:2")


def test_rtc_levels_scale_by_height():
    assert scaled("LD").output_size(1920, 1080) == (640, 360)
    assert scaled("SD").output_size(1920, 1080) == (854, 480)
    assert scaled("HD").output_size(1280, 720) == (1280, 720)
    assert scaled("HD").video == "libx264"


def test_a_bad_template_is_refused_when_the_source_is_saved(station):
    before = station.sources.list()
    with pytest.raises(InvalidInput) as info:
        station.sources.create(SourceIn(name="bad", uri_rtsp=TESTSRC, ffmpeg_cmd="-c:v copy -crf 20"))
    assert info.value.field == "ffmpeg_cmd" and "-crf" in info.value.message
    assert station.sources.list() == before
