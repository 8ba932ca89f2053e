"""The RTSP test camera's H.265 and authentication options, read back with PyAV (FFmpeg):
the camera must really serve HEVC, and really refuse clients without the right credentials,
or tests built on these options would prove nothing."""

from __future__ import annotations

import socket

import av
import pytest

from tests.support.camera import RtspCamera, skip_reason

pytestmark = pytest.mark.rtsp

SMALL = dict(width=320, height=240, fps=25, gop_seconds=1, bitrate_kbps=300, pattern="ball")
OPEN = {"rtsp_transport": "tcp"}


def _camera(**kwargs) -> RtspCamera:
    reason = skip_reason(kwargs.get("codec", "h264"))
    if reason:
        pytest.skip(reason)
    return RtspCamera(**{**SMALL, **kwargs})


def _first_video_packets(url: str, count: int = 10):
    """The codec name and the first `count` non-empty video packets a client gets."""
    with av.open(url, options=OPEN, timeout=10) as container:
        stream = container.streams.video[0]
        packets = []
        for packet in container.demux(stream):
            if packet.size:
                packets.append(packet)
            if len(packets) == count:
                break
        return stream.codec_context.name, packets


def _challenge(url: str, port: int) -> str:
    """The WWW-Authenticate header the camera answers a DESCRIBE without credentials with."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        reply = sock.recv(4096).decode(errors="replace")
    assert reply.startswith("RTSP/1.0 401"), reply
    return next(line.split(":", 1)[1].strip() for line in reply.splitlines()
                if line.lower().startswith("www-authenticate:"))


def test_h265_camera_serves_hevc_starting_with_a_keyframe():
    with _camera(codec="h265", gop_seconds=10) as camera:
        for _client in range(2):  # each client gets its own keyframe on PLAY
            codec, packets = _first_video_packets(camera.url)
            assert codec == "hevc"
            assert len(packets) == 10
            # what recorders rely on: a client's stream starts with a keyframe
            assert packets[0].is_keyframe
        with av.open(camera.url, options=OPEN, timeout=10) as container:
            frame = next(container.decode(video=0))
            assert (frame.width, frame.height) == (320, 240)


@pytest.mark.parametrize("method", ["basic", "digest"])
def test_camera_with_auth_refuses_wrong_credentials_and_serves_right_ones(method):
    user, password = "alice", "p@ss:w/rd"  # characters that need percent-encoding
    with _camera(auth=(user, password), auth_method=method) as camera:
        assert "@" not in camera.url
        good = camera.url_with_credentials()
        assert good.startswith("rtsp://alice:p%40ss%3Aw%2Frd@127.0.0.1:")
        # Only the configured scheme is offered, so FFmpeg really uses it.
        assert _challenge(camera.url, camera.port).lower().startswith(method)

        wrong = good.replace("p%40ss", "nope")
        for url in (camera.url, wrong, good.replace("alice", "bob")):
            with pytest.raises(av.error.HTTPUnauthorizedError):
                _first_video_packets(url, count=1)

        codec, packets = _first_video_packets(good)
        assert codec == "h264"
        assert packets[0].is_keyframe


def test_camera_options_reject_what_the_camera_cannot_do(tmp_path):
    with pytest.raises(ValueError):
        RtspCamera(clip=tmp_path / "clip.mp4", codec="h265")
    with pytest.raises(ValueError):
        RtspCamera(codec="vp8")
    with pytest.raises(ValueError):
        RtspCamera(auth=("alice", "x"), auth_method="ntlm")
    camera = RtspCamera(auth=("alice", "x"), auth_method="digest")
    assert camera.command()[-2:] == ["--auth-method", "digest"]
    assert "--auth=alice:x" in camera.command()
    assert "--codec" not in camera.command()  # defaults add no flags: today's camera unchanged
