"""The RTP depacketizers on packets built by hand to the RFCs, for the cases a GStreamer camera
does not send on its own: aggregation packets, a lost fragment, CSRC lists, header
extensions and padding, several AAC frames in one packet, H.265 fragments. AAC comes from
FFmpeg's encoder and must decode again after the trip."""

from __future__ import annotations

import io
import struct

import av
import numpy as np

from recorder.rtp_depay import START, AacDepay, H264Depay, H265Depay
from recorder.rtsp_protocol import Media, parse_sdp


def rtp(seq: int, ts: int, payload: bytes, *, marker: bool = False, pt: int = 96,
        csrc: int = 0, extension: bytes | None = None, padding: int = 0) -> bytes:
    first = 0x80 | csrc | (0x10 if extension is not None else 0) | (0x20 if padding else 0)
    head = struct.pack(">BBHII", first, (0x80 if marker else 0) | pt, seq & 0xFFFF, ts, 0x1234)
    head += b"\x00\x00\x00\x07" * csrc
    if extension is not None:
        head += b"\xbe\xde" + struct.pack(">H", len(extension) // 4) + extension
    tail = b"\x00" * (padding - 1) + bytes([padding]) if padding else b""
    return head + payload + tail


def push_all(depay, packets: list[bytes]) -> list:
    out: list = []
    for packet in packets:
        view = memoryview(bytearray(packet))
        depay.push(view, 0, len(packet), out)
    return [(ts, bytes(data), key) for ts, data, key in out]


def fu_a(nal: bytes, size: int) -> list[bytes]:
    """RFC 6184 FU-A fragments of one NAL unit."""
    indicator = (nal[0] & 0xE0) | 28
    body = nal[1:]
    chunks = [body[i:i + size] for i in range(0, len(body), size)]
    out = []
    for index, chunk in enumerate(chunks):
        header = nal[0] & 0x1F
        header |= 0x80 if index == 0 else 0
        header |= 0x40 if index == len(chunks) - 1 else 0
        out.append(bytes([indicator, header]) + chunk)
    return out


SPS = bytes([0x67, 0x64, 0x00, 0x1F]) + bytes(range(20))
PPS = bytes([0x68, 0xEE, 0x3C, 0x80])
IDR = bytes([0x65]) + bytes(i % 251 for i in range(3000))
SLICE = bytes([0x41]) + bytes(i % 13 for i in range(500))


def test_h264_aggregates_fragments_and_access_units():
    stap = bytes([24]) + b"".join(len(n).to_bytes(2, "big") + n for n in (SPS, PPS))
    fragments = fu_a(IDR, 1000)
    packets = [rtp(1, 9000, stap)]
    packets += [rtp(2 + i, 9000, f, marker=i == len(fragments) - 1) for i, f in enumerate(fragments)]
    packets.append(rtp(10, 12600, SLICE, marker=True, csrc=2, extension=b"\x01\x02\x03\x04",
                       padding=3))
    units = push_all(H264Depay(Media("video", 96, "H264")), packets)
    assert units == [(9000, START + SPS + START + PPS + START + IDR, True),
                     (12600, START + SLICE, False)]


def test_h264_drops_a_fragmented_nal_whose_middle_was_lost_and_keeps_the_rest():
    fragments = fu_a(IDR, 1000)
    packets = [rtp(1, 100, SLICE)]
    packets += [rtp(2 + i, 100, f) for i, f in enumerate(fragments) if i != 1]  # seq 3 lost
    packets.append(rtp(2 + len(fragments), 100, SLICE, marker=True))
    units = push_all(H264Depay(Media("video", 96, "H264")), packets)
    assert units == [(100, START + SLICE + START + SLICE, False)]


def test_h264_access_unit_ends_when_the_timestamp_moves_without_a_marker():
    units = push_all(H264Depay(Media("video", 96, "H264")),
                     [rtp(1, 0, SLICE), rtp(2, 3600, SLICE), rtp(3, 7200, IDR, marker=True)])
    assert [(ts, key) for ts, _, key in units] == [(0, False), (3600, False), (7200, True)]


def test_h265_fragments_and_aggregation():
    idr = bytes([19 << 1, 0x01]) + bytes(i % 199 for i in range(2500))  # IDR_W_RADL
    vps, sps = bytes([32 << 1, 0x01, 0xAA]), bytes([33 << 1, 0x01, 0xBB, 0xCC])
    ap = bytes([48 << 1, 0x01]) + b"".join(len(n).to_bytes(2, "big") + n for n in (vps, sps))
    body = idr[2:]
    chunks = [body[i:i + 900] for i in range(0, len(body), 900)]
    packets = [rtp(1, 500, ap)]
    for index, chunk in enumerate(chunks):
        header = 19 | (0x80 if index == 0 else 0) | (0x40 if index == len(chunks) - 1 else 0)
        packets.append(rtp(2 + index, 500, bytes([49 << 1, 0x01, header]) + chunk,
                           marker=index == len(chunks) - 1))
    units = push_all(H265Depay(Media("video", 96, "H265")), packets)
    assert units == [(500, START + vps + START + sps + START + idr, True)]


def _aac_frames(count: int) -> tuple[list[bytes], bytes]:
    encoder = av.CodecContext.create("aac", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "mono", "fltp"
    encoder.open()
    frames: list[bytes] = []
    tone = np.sin(np.arange(1024 * (count + 4)) / 8).astype(np.float32).reshape(1, -1)
    for index in range(count + 4):
        frame = av.AudioFrame.from_ndarray(tone[:, index * 1024:(index + 1) * 1024], format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = 48000, index * 1024
        frames += [bytes(p) for p in encoder.encode(frame)]
    return frames[:count], bytes(encoder.extradata)


def test_aac_frames_leave_as_adts_that_decodes():
    frames, config = _aac_frames(3)
    media = parse_sdp("m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/1\r\n"
                      "a=fmtp:97 streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;"
                      f"indexlength=3;indexdeltalength=3;config={config.hex()}\r\n")[0]
    headers = b"".join(((len(f) << 3)).to_bytes(2, "big") for f in frames[:2])
    two = (len(headers) * 8).to_bytes(2, "big") + headers + frames[0] + frames[1]
    one = (16).to_bytes(2, "big") + (len(frames[2]) << 3).to_bytes(2, "big") + frames[2]
    units = push_all(AacDepay(media), [rtp(1, 48000, two, pt=97, marker=True),
                                      rtp(2, 48000 + 2048, one, pt=97, marker=True)])
    assert [ts for ts, _, _ in units] == [48000, 49024, 50048]
    with av.open(io.BytesIO(b"".join(data for _, data, _ in units)), format="aac") as container:
        stream = container.streams.audio[0]
        decoded = list(container.decode(stream))
    assert stream.codec_context.sample_rate == 48000 and len(decoded) >= 2


def test_sdp_of_a_typical_camera():
    medias = parse_sdp(
        "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=Media Presentation\r\nt=0 0\r\n"
        "a=control:*\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
        "a=fmtp:96 profile-level-id=420029; packetization-mode=1; "
        "sprop-parameter-sets=Z01AKI2NQDwBE/LAPEiJqA==,aO44gA==\r\n"
        "a=control:trackID=1\r\n"
        "m=audio 0 RTP/AVP 0\r\na=control:trackID=2\r\n")
    video, audio = medias
    assert (video.kind, video.encoding, video.clock_rate, video.control) == ("video", "H264", 90000,
                                                                             "trackID=1")
    assert H264Depay(video).parameter_sets()[1] == bytes.fromhex("68ee3880")
    assert (audio.encoding, audio.clock_rate, audio.control) == ("PCMU", 8000, "trackID=2")
