"""Motion detector cost per picture (issue #24): diff and mog2 at 180 px, beside a floor.

    .venv/bin/python tests/bench/bench_detector.py [--repeat 5]

The pictures are the walking_box scene (tests/support/scenes.py: 640x360 H.264, 20 s, a box
crossing from 6 s to 12 s), decoded once with PyAV, their Y plane scaled to 180x101 and taken
at 5 pictures a second, as the station's analyser gets them. Each algorithm then analyses the
same pictures ``--repeat`` times on one thread (a fresh detector per pass); the figure is the
median pass's CPU time per picture (the thread's own, so a busy machine does not inflate
it; the wall time is printed beside it). The floor, measured in the same run on the same
pictures, is the bare minimum any differencing detector does: cv2.absdiff against the
previous picture and cv2.threshold; beside it the bare steps of any running-average detector
(blur, difference, threshold, dilate, contours, average update), to show what this one's
compensations cost. Decoding is not in the detector's figures; it is printed
last for context (the recorder decodes the preview stream for the wall anyway;
bench_motion.py measures the whole chain).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import cv2  # noqa: E402

from tests.support.scenes import analysis_pictures, scene_clip  # noqa: E402
from vision.detector import MotionDetector  # noqa: E402
from vision.settings import MotionSettings, Zone  # noqa: E402


def per_picture_ms(run, pictures, repeat: int) -> tuple[float, float]:
    """(CPU, wall) ms per picture, medians over the passes. CPU time (this thread's) is the
    figure: on a shared machine the wall time also counts the waits for a core."""
    cpu, wall = [], []
    for _ in range(repeat):
        start_cpu, start_wall = time.thread_time(), time.perf_counter()
        run(pictures)
        cpu.append((time.thread_time() - start_cpu) / len(pictures) * 1000.0)
        wall.append((time.perf_counter() - start_wall) / len(pictures) * 1000.0)
    return statistics.median(cpu), statistics.median(wall)


def decode_ms(path: Path, repeat: int) -> float:
    """CPU ms per picture to decode the clip (640x360 H.264, every picture, as the recorder's
    preview decoder does) and take the Y plane at 180 px of every other one: context."""
    import av

    cpu = []
    for _ in range(repeat):
        start, count = time.thread_time(), 0
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type, stream.codec_context.thread_count = "SLICE", 1
            for count, frame in enumerate(container.decode(stream), 1):
                if count % 2:
                    frame.reformat(width=180, height=101, format="gray").to_ndarray()
        cpu.append((time.thread_time() - start) / count * 1000.0)
    return statistics.median(cpu)


def floor(pictures) -> None:
    previous = pictures[0][1]
    for _, grey, _ in pictures:
        delta = cv2.absdiff(grey, previous)
        cv2.threshold(delta, 30, 255, cv2.THRESH_BINARY)
        previous = grey


def bare_pipeline(pictures) -> None:
    """The steps every running-average detector takes, without this one's compensations
    (contrast stretch, exposure mapping, noise floor, opening, masks, zones)."""
    average = pictures[0][1].astype("float32")
    for _, grey, _ in pictures:
        blurred = cv2.GaussianBlur(grey, (5, 5), 0)
        delta = cv2.absdiff(blurred, cv2.convertScaleAbs(average))
        changed = cv2.dilate(cv2.threshold(delta, 30, 255, cv2.THRESH_BINARY)[1], None)
        contours, _ = cv2.findContours(changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        [cv2.contourArea(c) for c in contours]
        cv2.accumulateWeighted(blurred, average, 0.01)


def detector(settings: MotionSettings):
    def run(pictures) -> None:
        d = MotionDetector(settings)
        for t, grey, colour in pictures:
            d.feed(grey, t, colour=colour)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cv2.setNumThreads(1)    # one analyser thread per source: measure one core's cost
    pictures = list(analysis_pictures(scene_clip("walking_box"), fps=5.0))
    zones = (Zone("left", "include", ((0, 0.4), (0.5, 0.4), (0.5, 1), (0, 1))),
             Zone("right", "include", ((0.5, 0.4), (1, 0.4), (1, 1), (0.5, 1)), 80),
             Zone("", "exclude", ((0.8, 0.0), (1, 0.0), (1, 0.2), (0.8, 0.2))))
    rows = [
        ("floor: absdiff + threshold", floor),
        ("bare blur/avg/threshold/contours", bare_pipeline),
        ("diff", detector(MotionSettings())),
        ("diff, 2 include zones + 1 mask", detector(MotionSettings(zones=zones))),
        ("mog2", detector(MotionSettings(algorithm="mog2"))),
        ("mog2, 2 include zones + 1 mask", detector(MotionSettings(algorithm="mog2",
                                                                   zones=zones))),
    ]
    h, w = pictures[0][1].shape
    print(f"{len(pictures)} pictures {w}x{h}, median of {args.repeat} passes, one thread; "
          f"OpenCV {cv2.__version__}, Python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"{'':34s} {'CPU':>8s} {'wall':>8s}  ms/picture")
    for name, run in rows:
        run(pictures)   # warm up
        cpu, wall = per_picture_ms(run, pictures, args.repeat)
        print(f"{name:34s} {cpu:8.3f} {wall:8.3f}")
    print(f"{'context: decode 640x360 + Y 180':34s} "
          f"{decode_ms(scene_clip('walking_box'), args.repeat):8.3f}  (per decoded picture)")


if __name__ == "__main__":
    main()
