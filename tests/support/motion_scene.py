"""A scripted motion scene as an H.264 MP4 the RTSP test camera serves (`RtspCamera(clip=...)`
or one clip per mount point, `clips={"/main": ..., "/sub": ...}`): a static picture (SMPTE
bars) that a box walks across: a black and white checkerboard of 30-px squares, so it
differs from every bar (a plain white box vanishes over the light-grey bar once the
detector stretches the contrast to the 4th-96th percentile, both clipped to white) and keeps
its texture at the detector's ~180 px (8-px squares average out to the grey of the cyan bar), entering every `period_s` seconds at `enter_s` into
the period and leaving `walk_s` later. Because the clip is encoded once and served from its
first frame to every client, the moment the box enters is known in the clip's own time
(`WalkingBox.entries`), which is what motion-to-event latency is measured against.

Made with PyAV's lavfi sources (color, smptebars, overlay; FFmpeg 8 has no drawtext) and
libx264: no B-frames, a keyframe exactly every `gop_s`, as a camera's preview stream.

    scene = WalkingBox(seconds=120)
    clip = scene.clip(cache_dir)              # encoded once per parameters
    scene.entries()                           # [3.1, 13.1, ...]: first frame with the box
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path


@dataclass(frozen=True)
class WalkingBox:
    seconds: float = 60.0
    width: int = 640
    height: int = 360
    fps: int = 10
    gop_s: float = 1.0
    period_s: float = 10.0
    enter_s: float = 3.0       # into each period: the box's left edge at the picture's
    walk_s: float = 4.0        # then it crosses the picture in this long and is gone
    box: tuple[int, int] = (60, 90)
    bitrate_kbps: int = 400
    noise: int = 0             # temporal noise over the picture (a sensor's grain), 0..100

    @property
    def name(self) -> str:
        return (f"walking_box_{self.width}x{self.height}_{self.fps}fps_gop{self.gop_s:g}_"
                f"p{self.period_s:g}_e{self.enter_s:g}_w{self.walk_s:g}_n{self.noise}_chk30_"
                f"{self.bitrate_kbps}k_{self.seconds:g}s.mp4")

    def entries(self) -> list[float]:
        """Clip times of the first frame of each walk that shows the box (its first frame
        after `enter_s`, when its left edge is at the picture's edge, shows none of it)."""
        times, start = [], 0.0
        while start + self.enter_s < self.seconds:
            times.append(round(start + self.enter_s + 1 / self.fps, 6))
            start += self.period_s
        return times

    def filtergraph(self) -> str:
        w, h = self.box
        speed = (self.width + w) / self.walk_s
        phase = f"mod(t,{self.period_s:g})"
        x = (f"if(between({phase},{self.enter_s:g},{self.enter_s + self.walk_s:g}),"
             f"({phase}-{self.enter_s:g})*{speed:g}-{w},-{2 * w})")
        return (f"smptebars=s={self.width}x{self.height}:r={self.fps}:d={self.seconds:g}[bg];"
                f"color=c=white:s={w}x{h}:r={self.fps},format=yuv420p,"
                "geq=lum='if(mod(floor(X/30)+floor(Y/30),2),235,16)':cb=128:cr=128[box];"
                f"[bg][box]overlay=x='{x}':y={(self.height - h) // 2}:shortest=1"
                + (f",noise=alls={self.noise}:allf=t" if self.noise else ""))

    def clip(self, cache_dir: Path | None = None) -> Path:
        """The scene's MP4, encoded on first use into `cache_dir` (default: a folder in the
        temporary directory shared with tests.support.clip's clips)."""
        gop = max(1, round(self.fps * self.gop_s))
        return cached_lavfi_clip(self.name, self.filtergraph(), self.width, self.height,
                                 self.fps, gop=gop, bitrate=self.bitrate_kbps * 1000,
                                 profile="high", cache_dir=cache_dir)


def cached_lavfi_clip(name: str, filtergraph: str, width: int, height: int, fps: int, *,
                      gop: int, bitrate: int, profile: str | None = None,
                      cache_dir: Path | None = None) -> Path:
    """A lavfi filtergraph encoded once as `name` in `cache_dir` (default: the temporary
    directory's folder shared with tests.support.clip's clips): H.264 without B-frames, a
    keyframe exactly every `gop` pictures, as a camera's stream. The scenes of
    tests.support (a walking box, a box crossing each half) are made with it."""
    folder = Path(cache_dir or Path(tempfile.gettempdir()) / "recording-station-clips")
    path = folder / name
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        _encode_lavfi(partial, filtergraph, width, height, fps, gop, bitrate, profile)
        partial.replace(path)
    return path


def _encode_lavfi(path: Path, filtergraph: str, width: int, height: int, fps: int, gop: int,
                  bitrate: int, profile: str | None) -> None:
    import av
    from av.video.frame import PictureType

    with av.open(filtergraph, format="lavfi") as source, \
            av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bitrate
        stream.codec_context.gop_size = gop
        options = {"preset": "veryfast", "bf": "0",
                   "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0"}
        if profile is not None:
            options["profile"] = profile
        stream.codec_context.options = options
        stream.time_base = Fraction(1, fps)
        for index, frame in enumerate(source.decode(video=0)):
            picture = frame.reformat(format="yuv420p")
            picture.pts, picture.time_base = index, Fraction(1, fps)
            picture.pict_type = PictureType.NONE  # lavfi marks each one I: x264 obeys
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))
