"""The motion-search scene (#28): SMPTE bars that a textured box crosses twice, first inside
the picture's left half, later inside its right half, so a search by region knows in advance
which half moved when. Made with PyAV's lavfi sources (smptebars, color, geq, overlay; FFmpeg 8
has no drawtext) and encoded once per parameters like tests/support/motion_scene.py's clips.

    scene = HalvesScene()
    clip = scene.clip()          # cached MP4, 640x360, 10 fps
    scene.left, scene.right      # (first, last) clip second the box shows in each half
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path


@dataclass(frozen=True)
class HalvesScene:
    seconds: float = 15.0
    width: int = 640
    height: int = 360
    fps: int = 10
    left: tuple[float, float] = (2.0, 5.0)     # the box walks x 20 -> 200 (its right edge < 320)
    right: tuple[float, float] = (9.0, 12.0)   # then x 380 -> 560 (its left edge > 320)
    box: tuple[int, int] = (60, 90)

    @property
    def name(self) -> str:
        return (f"halves_{self.width}x{self.height}_{self.fps}fps_l{self.left[0]:g}-"
                f"{self.left[1]:g}_r{self.right[0]:g}-{self.right[1]:g}_{self.seconds:g}s.mp4")

    def filtergraph(self) -> str:
        w, h = self.box
        y = (self.height - h) // 2

        def walk(first: float, last: float, x0: int, x1: int) -> str:
            speed = (x1 - x0) / (last - first)
            return f"if(between(t,{first:g},{last:g}),{x0}+(t-{first:g})*{speed:g},-{2 * w})"

        return (f"smptebars=s={self.width}x{self.height}:r={self.fps}:d={self.seconds:g}[bg];"
                f"color=c=white:s={w}x{h}:r={self.fps},format=yuv420p,"
                "geq=lum='if(mod(floor(X/30)+floor(Y/30),2),235,16)':cb=128:cr=128,"
                "split[b1][b2];"
                f"[bg][b1]overlay=x='{walk(*self.left, 20, 200)}':y={y}:shortest=1[v1];"
                f"[v1][b2]overlay=x='{walk(*self.right, 380, 560)}':y={y}:shortest=1")

    def clip(self, cache_dir: Path | None = None) -> Path:
        folder = Path(cache_dir or Path(tempfile.gettempdir()) / "recording-station-clips")
        path = folder / self.name
        if not path.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + f".{id(self)}.part")
            self._encode(partial)
            partial.replace(path)
        return path

    def _encode(self, path: Path) -> None:
        import av
        from av.video.frame import PictureType

        with av.open(self.filtergraph(), format="lavfi") as source, \
                av.open(str(path), "w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=self.fps)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, "yuv420p"
            stream.bit_rate = 400_000
            stream.codec_context.gop_size = self.fps
            stream.codec_context.options = {
                "preset": "veryfast", "bf": "0",
                "x264-params": f"keyint={self.fps}:min-keyint={self.fps}:scenecut=0:bframes=0"}
            stream.time_base = Fraction(1, self.fps)
            for index, frame in enumerate(source.decode(video=0)):
                picture = frame.reformat(format="yuv420p")
                picture.pts, picture.time_base = index, Fraction(1, self.fps)
                picture.pict_type = PictureType.NONE  # lavfi marks each one I: x264 obeys
                out.mux(stream.encode(picture))
            out.mux(stream.encode(None))
