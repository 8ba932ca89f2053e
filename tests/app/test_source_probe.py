"""`SourceService.probe` ("Test connection") on a real station against real inputs: the
built-in test pattern and a file give their first picture; an address the URI policy refuses
(a file outside `media_dirs`, read live; a nested protocol) is an `InvalidInput` naming the
field, as saving it would be; a closed port and a snapshot camera with a wrong password are
answers with no picture, whose operator detail says why and never shows the credentials,
and whose serialised form says only the public reason. Nothing is ever stored."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from app.errors import InvalidInput
from app.schemas import HttpPicture, SourceIn
from app.station import apply_settings
from recorder.inputs import AUTH_FAILED, UNREACHABLE
from tests.support.media import small_clip
from tests.support.ports import free_loopback_port


def _picture(jpeg: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))


def test_the_test_pattern_gives_its_first_picture_and_what_it_is(station):
    result = station.sources.probe(SourceIn(uri_rtsp="testsrc://testsrc2?size=320x240&rate=25&gop=1"))
    assert result.ok and result.error is None and result.detail is None
    assert (result.width, result.height, result.codec, result.fps) == (320, 240, "h264", 25.0)
    assert result.summary() == "320×240 · h264 · 25 fps"
    rgb = _picture(result.jpeg)
    assert rgb.shape == (240, 320, 3) and rgb.std() > 10  # a real picture, not a blank
    assert 0 < result.seconds < 15
    assert station.sources.list() == []  # testing stores nothing, starts no reader


def test_a_file_is_opened_only_below_media_dirs_read_live(station, tmp_path):
    clip = small_clip(tmp_path / "clip.mp4")  # tmp_path is the test station's media folder
    result = station.sources.probe(SourceIn(uri_rtsp=f"file://{clip}"))
    assert result.ok and (result.width, result.height) == (160, 120)

    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    outside = small_clip(elsewhere / "outside.mp4")
    with pytest.raises(InvalidInput) as refused:
        station.sources.probe(SourceIn(uri_rtsp=f"file://{outside}"))
    assert refused.value.field == "uri_rtsp" and "media_dirs" in refused.value.message
    link = tmp_path / "link.mp4"  # a symlink in the media folder pointing out of it
    os.symlink(outside, link)
    with pytest.raises(InvalidInput):
        station.sources.probe(SourceIn(uri_rtsp=f"file://{link}"))

    # the setting of now: without media folders the clip that just played is refused too
    apply_settings(station, station.settings.model_copy(update={"media_dirs": []}))
    with pytest.raises(InvalidInput) as refused:
        station.sources.probe(SourceIn(uri_rtsp=f"file://{clip}"))
    assert "media_dirs" in refused.value.message
    assert station.sources.list() == []


def test_what_the_policy_refuses_is_refused_before_anything_is_opened(station):
    for uri, words in (("rtsp://cam/live?x=concat:/etc/passwd", "protocol prefix"),
                       ("gopher://cam/", "unsupported URI scheme"),
                       ("testsrc://testsrc2?size=641x360", "even")):
        with pytest.raises(InvalidInput) as refused:
            station.sources.probe(SourceIn(uri_rtsp=uri))
        assert refused.value.field == "uri_rtsp" and words in refused.value.message
    with pytest.raises(InvalidInput) as missing:
        station.sources.probe(SourceIn(model="Source"))
    assert missing.value.field == "uri_rtsp" and missing.value.kind == "missing"


def test_a_closed_port_is_an_answer_without_picture_and_without_the_password(station):
    port = free_loopback_port()
    result = station.sources.probe(SourceIn(uri_rtsp=f"rtsp://admin:Sup3rSecret@127.0.0.1:{port}/live"))
    assert not result.ok and result.jpeg is None and result.width is None
    assert "Connection refused" in result.detail  # for the operator who typed it
    assert result.error == UNREACHABLE            # for anyone else: no port oracle
    assert result.seconds < 10
    answer = result.model_dump_json()
    assert "Sup3rSecret" not in answer + result.detail
    assert "refused" not in answer.replace(UNREACHABLE, "") and "detail" not in answer
    assert station.sources.list() == []


def test_a_snapshot_camera_with_a_wrong_password_then_the_right_one(station, snapshot_camera):
    def probe(password: str):
        picture = HttpPicture(uri=snapshot_camera.url("digest"), auth="digest", user="admin",
                              password=password, interval=0.5)
        return station.sources.probe(SourceIn(model="PictureSource", uri_http_picture=picture))

    wrong = probe("Wr0ngPassw0rd")
    assert not wrong.ok and "401" in wrong.detail and wrong.error == AUTH_FAILED
    assert "Wr0ngPassw0rd" not in wrong.detail
    right = probe("s3cret")
    assert right.ok and (right.width, right.height, right.codec) == (320, 240, "mjpeg")
    assert right.interval == 0.5 and right.summary() == "320×240 · mjpeg · a picture every 0.5 s"
    assert _picture(right.jpeg).shape == (240, 320, 3)
    assert station.sources.list() == []
