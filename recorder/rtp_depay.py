"""RTP payloads back into the units a muxer takes: H.264 (RFC 6184) and H.265 (RFC 7798)
access units in Annex B, AAC (RFC 3640, `mpeg4-generic`) as ADTS frames, G.711 as is.

Each depacketizer gets one RTP packet at a time (`push(data, start, end, out)`, `data` a
memoryview of the reader's batch) and appends finished units to `out` as
`(rtp_timestamp, data, is_keyframe)`. A video access unit ends at the RTP marker bit or when
the timestamp moves on; a fragment whose start was lost is dropped rather than muxed broken.

A video access unit is gathered as a list of views of the reader's buffer and joined once
when it is complete; before the reader reads into its buffer again it calls `detach`, which
copies what an unfinished unit holds of it. Growing a `bytearray` fragment by fragment
instead reallocated and copied the whole unit for nearly every fragment (a 1080p keyframe is
~70 fragments): memmove and malloc were a tenth of what reading a camera cost.

AAC leaves as ADTS because the muxers (MP4, FLV) turn ADTS back into raw AAC plus the
AudioSpecificConfig on their own (`aac_adtstoasc`): the stream template can then be probed
from the frames themselves. Configurations ADTS cannot express are `Unsupported`, and
FFmpeg reads such a camera instead.
"""

from __future__ import annotations

import base64
import struct
from abc import ABC, abstractmethod

from recorder.rtsp_protocol import Media, Unsupported

START = b"\x00\x00\x00\x01"
Unit = tuple[int, bytes, bool]
# A start code followed by a NAL header byte, one per value (a fragmented H.264 NAL's header)
_START_WITH = [START + bytes((value,)) for value in range(256)]


_HEAD = struct.Struct(">BBHI")
# A plain RTP header (version 2, no padding, extension or CSRC) and the start of the payload:
# H.264's FU indicator and FU header; H.265's payload header (2 bytes) and FU header.
_H264_FU = struct.Struct(">BBHI4xBB")
_H265_FU = struct.Struct(">BBHI4xBxB")


def rtp_delta(earlier: int, later: int) -> int:
    """`later - earlier` for 32-bit RTP timestamps that wrap: negative when `later` is older."""
    return (later - earlier + 2**31) % 2**32 - 2**31


def _b64(text: str) -> bytes:
    """An SDP parameter set; cameras often leave out the base64 padding."""
    return base64.b64decode(text + "=" * (-len(text) % 4))


def rtp_header(data, start: int, end: int) -> tuple[int, int, bool, int, int] | None:
    """(sequence, timestamp, marker, payload start, payload end) or None if not RTP."""
    if end - start < 12:
        return None
    first, second, seq, ts = _HEAD.unpack_from(data, start)
    if first >> 6 != 2:
        return None
    pos = start + 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if pos + 4 > end:
            return None
        pos += 4 + 4 * ((data[pos + 2] << 8) | data[pos + 3])
    if first & 0x20 and end > pos:  # padding
        end -= data[end - 1]
    if pos > end:
        return None
    return seq, ts, bool(second & 0x80), pos, end


class VideoDepay(ABC):
    """Common part of H.264 and H.265: gather the NAL units of one timestamp into an access
    unit. This runs for every RTP packet of every camera (a few hundred a second at
    4 Mbit/s), so the common case, a plain 12-byte header, is read with one `unpack_from`
    and the payload is appended from a memoryview without an intermediate copy."""

    def __init__(self, media: Media):
        self.media = media
        self.parts: list = []  # the access unit being gathered: start codes and payload views
        self.ts: int | None = None
        self.key = False
        self.nal_start = -1  # where the fragmented NAL in progress began in `parts`, -1: none
        self.fragment_key = False  # that NAL is a keyframe's
        self.last_seq = -1

    def parameter_sets(self) -> list[bytes]:
        """SPS/PPS (and VPS) from the SDP, to put in front of the first keyframe."""
        return []

    def push(self, data: memoryview, start: int, end: int, out: list[Unit]) -> None:
        if end - start < 13:
            return
        first, second, seq, ts = _HEAD.unpack_from(data, start)
        if first == 0x80:
            pos = start + 12
        else:
            header = rtp_header(data, start, end)
            if header is None:
                return
            pos, end = header[3], header[4]
            if pos >= end:
                return
        if seq != (self.last_seq + 1) & 0xFFFF and self.nal_start >= 0:
            del self.parts[self.nal_start:]  # a lost packet: the NAL in progress is broken
            self.nal_start = -1
        self.last_seq = seq
        if ts != self.ts:
            if self.parts:
                self._emit(out)
            self.ts = ts
        self._payload(data, pos, end)
        if second & 0x80 and self.parts:
            self._emit(out)

    def detach(self) -> None:
        """Copy the views of the reader's buffer the unfinished unit holds (its next read
        overwrites that buffer)."""
        if self.parts:
            self.parts = [part if type(part) is bytes else bytes(part) for part in self.parts]

    def _emit(self, out: list[Unit]) -> None:
        if self.nal_start >= 0:  # the end of a fragmented NAL never came
            del self.parts[self.nal_start:]
            self.nal_start = -1
        if self.parts:
            out.append((self.ts, b"".join(self.parts), self.key))
        self.parts, self.key = [], False

    @abstractmethod
    def _payload(self, data: memoryview, pos: int, end: int) -> None:
        """Append one RTP payload's NAL units to `parts` (the codec's own packetization)."""


class H264Depay(VideoDepay):
    def push(self, data: memoryview, start: int, end: int, out: list[Unit]) -> None:
        """A middle fragment of a FU-A in order (most RTP packets of a camera: a 1080p
        picture is a dozen or more of them) goes straight into the unit, read with one
        `unpack_from`; everything else takes the general way, with the same result."""
        if end - start >= 14 and self.nal_start >= 0:
            first, second, seq, ts, indicator, fu = _H264_FU.unpack_from(data, start)
            if (first == 0x80 and indicator & 0x1F == 28 and not fu & 0xC0
                    and not second & 0x80 and ts == self.ts
                    and seq == (self.last_seq + 1) & 0xFFFF):
                self.last_seq = seq
                self.parts.append(data[start + 14:end])
                return
        super().push(data, start, end, out)

    def parameter_sets(self) -> list[bytes]:
        sprop = self.media.fmtp.get("sprop-parameter-sets", "")
        return [_b64(p) for p in sprop.split(",") if p]

    def _payload(self, data: memoryview, pos: int, end: int) -> None:
        nal = data[pos]
        kind = nal & 0x1F
        parts = self.parts
        if kind == 28:  # FU-A
            if end - pos < 2:
                return
            fu = data[pos + 1]
            if fu & 0x80:
                if self.nal_start >= 0:
                    del parts[self.nal_start:]
                self.nal_start = len(parts)
                self.fragment_key = (fu & 0x1F) == 5
                parts.append(_START_WITH[(nal & 0xE0) | (fu & 0x1F)])
            elif self.nal_start < 0:
                return
            parts.append(data[pos + 2:end])
            if fu & 0x40:  # a whole NAL: only now does it count
                self.nal_start = -1
                self.key = self.key or self.fragment_key
        elif kind == 24:  # STAP-A
            pos += 1
            while pos + 2 < end:
                size = (data[pos] << 8) | data[pos + 1]
                pos += 2
                if size == 0 or pos + size > end:
                    break
                self.key = self.key or (data[pos] & 0x1F) == 5
                parts.append(START)
                parts.append(data[pos:pos + size])
                pos += size
        elif 1 <= kind <= 23:
            self.key = self.key or kind == 5
            parts.append(START)
            parts.append(data[pos:end])
        else:
            raise Unsupported(f"H.264 packetization (NAL type {kind})")


class H265Depay(VideoDepay):
    def __init__(self, media: Media):
        super().__init__(media)
        if int(media.fmtp.get("sprop-max-don-diff", "0") or 0) > 0:
            raise Unsupported("H.265 with decoding order numbers")

    def push(self, data: memoryview, start: int, end: int, out: list[Unit]) -> None:
        """As H.264's: a middle fragment in order straight into the unit."""
        if end - start >= 15 and self.nal_start >= 0:
            first, second, seq, ts, header, fu = _H265_FU.unpack_from(data, start)
            if (first == 0x80 and (header >> 1) & 0x3F == 49 and not fu & 0xC0
                    and not second & 0x80 and ts == self.ts
                    and seq == (self.last_seq + 1) & 0xFFFF):
                self.last_seq = seq
                self.parts.append(data[start + 15:end])
                return
        super().push(data, start, end, out)

    def parameter_sets(self) -> list[bytes]:
        sets = []
        for key in ("sprop-vps", "sprop-sps", "sprop-pps"):
            sets += [_b64(p) for p in self.media.fmtp.get(key, "").split(",") if p]
        return sets

    def _payload(self, data: memoryview, pos: int, end: int) -> None:
        if end - pos < 3:
            return
        kind = (data[pos] >> 1) & 0x3F
        parts = self.parts
        if kind == 49:  # fragmentation unit
            fu = data[pos + 2]
            if fu & 0x80:
                if self.nal_start >= 0:
                    del parts[self.nal_start:]
                self.nal_start = len(parts)
                nal = fu & 0x3F
                self.fragment_key = 16 <= nal <= 23
                parts.append(START + bytes(((data[pos] & 0x81) | (nal << 1), data[pos + 1])))
            elif self.nal_start < 0:
                return
            parts.append(data[pos + 3:end])
            if fu & 0x40:
                self.nal_start = -1
                self.key = self.key or self.fragment_key
        elif kind == 48:  # aggregation packet
            pos += 2
            while pos + 2 < end:
                size = (data[pos] << 8) | data[pos + 1]
                pos += 2
                if size == 0 or pos + size > end:
                    break
                self.key = self.key or 16 <= (data[pos] >> 1) & 0x3F <= 23
                parts.append(START)
                parts.append(data[pos:pos + size])
                pos += size
        elif kind < 48:
            self.key = self.key or 16 <= kind <= 23
            parts.append(START)
            parts.append(data[pos:end])
        else:
            raise Unsupported(f"H.265 packetization (NAL type {kind})")


class AacDepay:
    """RFC 3640 AU headers (AAC-hbr and AAC-lbr); each AU leaves with an ADTS header."""

    def __init__(self, media: Media):
        fmtp = media.fmtp
        try:
            config = bytes.fromhex(fmtp.get("config", ""))
            self.size_bits = int(fmtp.get("sizelength", "0"))
            self.index_bits = int(fmtp.get("indexlength", "0"))
        except ValueError:
            raise Unsupported("AAC with an unreadable config") from None
        if len(config) < 2 or not self.size_bits:
            raise Unsupported("AAC without config or sizeLength")
        object_type = config[0] >> 3
        rate_index = ((config[0] & 0x07) << 1) | (config[1] >> 7)
        channels = (config[1] >> 3) & 0x0F
        # AAC Main to LTP, one of the 13 sampling rates (96 to 7.35 kHz), 1 to 7 channels
        if not (1 <= object_type <= 4 and rate_index < 13 and 1 <= channels <= 7):
            raise Unsupported("an AAC configuration ADTS cannot carry")
        self.frame = 960 if config[1] & 0x04 else 1024
        # ADTS header, less the frame length (13 bits from bit 30), filled in per frame
        self._adts = bytearray(7)
        self._adts[0], self._adts[1] = 0xFF, 0xF1
        self._adts[2] = ((object_type - 1) << 6) | (rate_index << 2) | (channels >> 2)
        self._adts[3] = (channels & 0x03) << 6
        self._adts[5], self._adts[6] = 0x1F, 0xFC
        self._fragments: list[bytes] = []
        self._wanted = 0

    def detach(self) -> None:
        """Nothing to copy: every frame and fragment is copied as it comes."""

    def adts(self, payload: bytes) -> bytes:
        size = len(payload) + 7
        header = self._adts.copy()
        header[3] |= (size >> 11) & 0x03
        header[4] = (size >> 3) & 0xFF
        header[5] |= (size & 0x07) << 5
        return bytes(header) + payload

    def push(self, data: bytearray, start: int, end: int, out: list[Unit]) -> None:
        header = rtp_header(data, start, end)
        if header is None:
            return
        _, ts, marker, pos, end = header
        if end - pos < 2:
            return
        header_bits = (data[pos] << 8) | data[pos + 1]
        header_bytes = (header_bits + 7) // 8
        bits = int.from_bytes(data[pos + 2:pos + 2 + header_bytes], "big")
        total = header_bytes * 8
        step = self.size_bits + self.index_bits
        sizes = [(bits >> (total - offset - self.size_bits)) & ((1 << self.size_bits) - 1)
                 for offset in range(0, header_bits - step + 1, step)]
        pos += 2 + header_bytes
        if self._fragments or (len(sizes) == 1 and sizes[0] > end - pos):
            self._fragment(data[pos:end], sizes[0] if sizes else 0, ts, marker, out)
            return
        for index, size in enumerate(sizes):
            if pos + size > end:
                break
            out.append((ts + index * self.frame, self.adts(bytes(data[pos:pos + size])), True))
            pos += size

    def _fragment(self, chunk: bytes, size: int, ts: int, marker: bool, out: list[Unit]) -> None:
        """An AU larger than one RTP packet: gather it up to the marker bit."""
        if not self._fragments:
            self._wanted = size
        self._fragments.append(bytes(chunk))
        if marker:
            whole = b"".join(self._fragments)
            self._fragments = []
            if len(whole) == self._wanted:
                out.append((ts, self.adts(whole), True))


class G711Depay:
    """One RTP payload is one packet of samples, as it is."""

    def __init__(self, media: Media):
        self.media = media

    def detach(self) -> None:
        """Nothing to copy: every payload is copied as it comes."""

    def push(self, data: bytearray, start: int, end: int, out: list[Unit]) -> None:
        header = rtp_header(data, start, end)
        if header is not None and header[4] > header[3]:
            out.append((header[1], bytes(data[header[3]:header[4]]), True))


def depacketizer(media: Media):
    """The depacketizer for `media`, or `Unsupported`."""
    kinds = {"H264": H264Depay, "H265": H265Depay, "MPEG4-GENERIC": AacDepay,
             "PCMA": G711Depay, "PCMU": G711Depay}
    if media.encoding not in kinds:
        raise Unsupported(f"{media.kind} codec {media.encoding or media.payload_type}")
    if media.encoding == "MPEG4-GENERIC" and "aac" not in media.fmtp.get("mode", "").lower():
        raise Unsupported(f"mpeg4-generic mode {media.fmtp.get('mode')!r}")
    return kinds[media.encoding](media)
