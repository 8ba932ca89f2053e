"""The motion-search scene (#28): SMPTE bars that a textured box crosses twice, first inside
the picture's left half, later inside its right half, so a search by region knows in advance
which half moved when. Made with PyAV's lavfi sources (smptebars, color, geq, overlay; FFmpeg 8
has no drawtext) and encoded once per parameters like tests/support/motion_scene.py's clips.

    scene = HalvesScene()
    clip = scene.clip()          # cached MP4, 640x360, 10 fps
    scene.left, scene.right      # (first, last) clip second the box shows in each half
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support.motion_scene import cached_lavfi_clip


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
        return cached_lavfi_clip(self.name, self.filtergraph(), self.width, self.height,
                                 self.fps, gop=self.fps, bitrate=400_000, cache_dir=cache_dir)
