"""Scripted scenes for motion detection: short H.264 clips whose events are known in advance.

Each scene is drawn frame by frame with numpy (seeded, so the same scene is the same pictures
on every machine) and encoded with PyAV's libx264 the way a camera's sub-stream is: yuv420p,
main profile, no B-frames, a keyframe exactly every second (so a motion record can start on a
keyframe 5 s before the motion). Clips are cached on disk like tests/support/clip.py's, so a
test run encodes each scene once.

    path = scene_clip("walking_box")                    # 640x360, 10 fps
    SCENES["walking_box"].enters_s                      # 6.0: the box reaches the picture
    for t, grey, colour in analysis_pictures(path, fps=5):
        detector.feed(grey, t, colour=colour)

Every scene has a faint sensor noise (a real camera's picture is never still), which also
makes every coded picture different, so ClipIndex can tell a recording's packets apart.

The scenes (issue #24, "How it is checked"):
  static           a textured still scene: nothing happens.
  walking_box      a textured box walks in from the left at enters_s, crosses, and is gone at
                   leaves_s.
  light_step       the whole picture brightens by 60 grey levels in one frame at 8 s (lights,
                   an infrared switch) and darkens back over half a second at 14 s.
  rain             fine noise and short bright streaks over the whole picture, every frame.
  clock            a small region (CLOCK_REGION, normalised) changes every second.
  goes_monochrome  a colourful still scene that turns grey (and brighter, as a camera's
                   infrared picture does) at 8 s.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCENE_VERSION = 3   # part of the cache file name: bump it when a scene's drawing changes
CLOCK_REGION = (0.80, 0.05, 0.12, 0.08)   # normalised (x, y, w, h) of the clock's digits


@dataclass(frozen=True)
class Scene:
    name: str
    seconds: float
    # walking_box: the box's leading edge reaches the picture's edge at enters_s (the frame
    # after shows it) and its trailing edge leaves it at leaves_s (the frame before showed
    # it); None for the scenes where nothing should happen.
    enters_s: float | None = None
    leaves_s: float | None = None
    change_s: float | None = None   # light_step, goes_monochrome: when the picture changes
    region: tuple[float, float, float, float] | None = None   # clock: where it changes


SCENES: dict[str, Scene] = {
    "static": Scene("static", 16.0),
    "walking_box": Scene("walking_box", 20.0, enters_s=6.0, leaves_s=12.0),
    "light_step": Scene("light_step", 20.0, change_s=8.0),
    "rain": Scene("rain", 12.0),
    "clock": Scene("clock", 16.0, region=CLOCK_REGION),
    "goes_monochrome": Scene("goes_monochrome", 16.0, change_s=8.0),
}
BOX_W, BOX_H = 0.125, 1 / 3   # the walking box, as shares of the picture's width and height
# The walking box sooner and faster, for tests of what follows a motion event (its service,
# its status, its end) rather than of the detector on the scene: the detector settles 1 s
# after its first picture, so 2.5 s of still scene are enough to enter on, where the
# scene's own 6 s are there for a motion record's 5 s pre-capture. Not in SCENES (the
# scene runs play every scene): `scene_clip(QUICK_BOX)`.
QUICK_BOX = Scene("walking_box_quick", 12.0, enters_s=2.5, leaves_s=5.5)


def _backdrop(width: int, height: int) -> np.ndarray:
    """A still, textured RGB scene: a gradient sky, a ground, a few blocks (houses, a car),
    and a fixed fine texture, all in grey levels 40..180 (room for the light step)."""
    rng = np.random.default_rng(24)
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    grey = 120 + 40 * y - 20 * x
    grey = np.where(y > 0.6, 70 + 30 * x, grey)
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    palette = [(170, 60, 50), (60, 150, 70), (50, 80, 170), (160, 150, 50), (140, 70, 150)]
    for i in range(9):
        w = int(rng.uniform(0.05, 0.18) * width)
        h = int(rng.uniform(0.08, 0.3) * height)
        x0 = int(rng.uniform(0.0, 0.9) * width)
        y0 = int(rng.uniform(0.3, 0.75) * height)
        rgb[y0:y0 + h, x0:x0 + w] = palette[i % len(palette)]
    texture = rng.normal(0.0, 10.0, (height // 4 + 1, width // 4 + 1)).astype(np.float32)
    texture = np.kron(texture, np.ones((4, 4), np.float32))[:height, :width]
    rgb = rgb + texture[:, :, None]
    return np.clip(rgb, 40, 180)


def _frames(scene: Scene, width: int, height: int, fps: int) -> Iterator[np.ndarray]:
    """The scene's RGB frames (float32, clipped when encoded)."""
    rng = np.random.default_rng(sum(map(ord, scene.name)))
    base = _backdrop(width, height)
    box = None
    if scene.name.startswith("walking_box"):
        bw, bh = round(BOX_W * width), round(BOX_H * height)
        # A checkered box, dark and light like a person's clothes (a box all dark would be a
        # shadow to MOG2: darker than the ground by a constant ratio).
        box = 35 + 180 * (np.indices((bh, bw)).sum(axis=0) // 8 % 2)
        speed = (width + bw) / (scene.leaves_s - scene.enters_s)
    total = round(scene.seconds * fps)
    for i in range(total):
        t = i / fps
        frame = base.copy()
        if box is not None:
            left = round(-bw + speed * (t - scene.enters_s))
            x0, x1 = max(0, left), min(width, left + bw)
            if x1 > x0:
                y0 = height - bh - height // 10
                frame[y0:y0 + bh, x0:x1] = box[:, x0 - left:x1 - left, None]
        elif scene.name == "light_step":
            if t >= scene.change_s + 6.0:
                frame += 60 * max(0.0, 1.0 - (t - scene.change_s - 6.0) / 0.5)
            elif t >= scene.change_s:
                frame += 60
        elif scene.name == "rain":
            frame += rng.uniform(-40, 40, (height, width, 1)).astype(np.float32)
            for _ in range(300):
                sx, sy = rng.integers(0, width - 2), rng.integers(0, height - 12)
                frame[sy:sy + 12, sx:sx + 2] += 60
        elif scene.name == "clock":
            rx, ry, rw, rh = (round(v * s) for v, s in
                              zip(CLOCK_REGION, (width, height, width, height)))
            digits = np.random.default_rng(int(t)).integers(0, 2, (3, 8))
            cells = np.kron(digits, np.ones((rh // 3 + 1, rw // 8 + 1)))[:rh, :rw]
            frame[ry:ry + rh, rx:rx + rw] = (30 + 200 * cells)[:, :, None]
        elif scene.name == "goes_monochrome" and t >= scene.change_s:
            frame = frame.mean(axis=2, keepdims=True).repeat(3, axis=2) + 25
        frame += rng.normal(0.0, 1.5, (height, width, 1)).astype(np.float32)   # sensor noise
        yield np.clip(frame, 0, 255).astype(np.uint8)


def encode_scene(path: Path, name: str | Scene, *, width: int = 640, height: int = 360,
                 fps: int = 10) -> Path:
    """Encode scene ``name`` (or a Scene of its own) to ``path`` (H.264 main, yuv420p, no
    B-frames, 1-s GOP, MP4)."""
    import av   # the project venv's PyAV, as tests/support/clip.py's read_packets

    scene = name if isinstance(name, Scene) else SCENES[name]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    with av.open(str(partial), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {
            "preset": "veryfast", "crf": "20", "profile": "main",
            "x264-params": f"keyint={fps}:min-keyint={fps}:scenecut=0:bframes=0:threads=1",
        }
        for rgb in _frames(scene, width, height, fps):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    partial.replace(path)
    return path


def scene_clip(name: str | Scene, *, width: int = 640, height: int = 360, fps: int = 10,
               cache_dir: Path | None = None) -> Path:
    """The clip of scene ``name`` (or of a Scene of its own, QUICK_BOX), encoded on first
    use and kept in the clip cache folder."""
    if isinstance(name, Scene):
        scene = name
    elif name in SCENES:
        scene = SCENES[name]
    else:
        raise KeyError(f"no scene {name!r}; scenes: {', '.join(SCENES)}")
    folder = Path(cache_dir or Path(tempfile.gettempdir()) / "recording-station-clips")
    path = folder / f"scene_{scene.name}_v{SCENE_VERSION}_{width}x{height}_{fps}fps.mp4"
    if not path.is_file():
        # A private name first: parallel test workers may encode the same scene at once.
        private = folder / f".{path.name}.{os.getpid()}"
        encode_scene(private, scene, width=width, height=height, fps=fps)
        private.replace(path)
    return path


def colour_of(frame) -> float:
    """How colourful a yuv420p picture is: mean |U-128| + |V-128| over every 4th chroma
    sample (0 = grey), the measure vision.detector's day/night switch reads."""
    u = frame.planes[1]
    v = frame.planes[2]
    uu = np.frombuffer(u, np.uint8).reshape(-1, u.line_size)[::4, :frame.width // 2:4]
    vv = np.frombuffer(v, np.uint8).reshape(-1, v.line_size)[::4, :frame.width // 2:4]
    return float(np.abs(uu.astype(np.int16) - 128).mean()
                 + np.abs(vv.astype(np.int16) - 128).mean())


def analysis_pictures(path: Path, *, fps: float = 5.0, width: int = 180
                      ) -> Iterator[tuple[float, np.ndarray, float]]:
    """Decode a clip and yield (clip time, grey Y plane ``width`` wide, colour) at about
    ``fps`` pictures a second: what the recorder's analysis slot hands the detector."""
    import av

    next_t = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base)
            if next_t is not None and t < next_t - 1e-6:
                continue
            next_t = t + 1.0 / fps if next_t is None else next_t + 1.0 / fps
            height = round(frame.height * width / frame.width)
            grey = frame.reformat(width=width, height=height, format="gray").to_ndarray()
            yield t, grey, colour_of(frame)
