"""A virtual X screen (Xvfb) and what is on it, for tests and benchmarks that look at the
station's window from outside its process, as a user sees it.

`Screen.grab()` takes the whole screen with `xwd` (package x11-apps) and decodes the XWD dump
here (a 100-byte header, a colour map, then ZPixmap rows), so no image library is needed.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from pathlib import Path

import numpy as np


class Screen:
    def __init__(self, width: int = 1600, height: int = 1000):
        self.width, self.height = width, height
        self.display = ""
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "Screen":
        if shutil.which("Xvfb") is None or shutil.which("xwd") is None:
            raise RuntimeError("Xvfb and xwd are needed (packages xvfb, x11-apps)")
        read, write = os.pipe()
        # -displayfd: Xvfb picks a free display number and writes it once it accepts clients
        self._process = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{self.width}x{self.height}x24",
             "-nolisten", "tcp"], pass_fds=(write,), stderr=subprocess.DEVNULL)
        os.close(write)
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise RuntimeError("Xvfb did not start")
        self.display = f":{number}"
        return self

    def __exit__(self, *_exc) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """`base` (default: this process's environment) for a program shown on this screen:
        its DISPLAY, never offscreen Qt nor a Wayland display."""
        env = {k: v for k, v in (os.environ if base is None else base).items()
               if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "DISPLAY")}
        env["DISPLAY"] = self.display
        return env

    def grab(self) -> np.ndarray:
        """The whole screen as an RGB24 array (height x width x 3)."""
        dump = subprocess.run(["xwd", "-root", "-silent", "-display", self.display],
                              capture_output=True, check=True, timeout=20).stdout
        return decode_xwd(dump)

    def wait_for(self, predicate, timeout: float, every: float = 0.05) -> tuple[float, np.ndarray]:
        """Grab until `predicate(pixels)` holds: (seconds waited, the screen that did)."""
        started = time.monotonic()
        while True:
            pixels = self.grab()
            if predicate(pixels):
                return time.monotonic() - started, pixels
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"the screen did not show it within {timeout} s")
            time.sleep(every)


def decode_xwd(dump: bytes) -> np.ndarray:
    fields = struct.unpack(">25I", dump[:100])
    header_size, _version, pixmap_format, depth, width, height = fields[:6]
    byte_order, bits_per_pixel, bytes_per_line = fields[7], fields[11], fields[12]
    colours = fields[19]
    if pixmap_format != 2 or bits_per_pixel not in (24, 32) or depth != 24:
        raise ValueError(f"unexpected XWD: format {pixmap_format}, {bits_per_pixel} bpp, depth {depth}")
    size = bits_per_pixel // 8
    start = header_size + colours * 12
    rows = np.frombuffer(dump, np.uint8, height * bytes_per_line, start).reshape(height, bytes_per_line)
    pixels = rows[:, :width * size].reshape(height, width, size)
    # LSB first: B, G, R (, pad) in memory; MSB first: (pad,) R, G, B
    return pixels[:, :, 2::-1].copy() if byte_order == 0 else pixels[:, :, size - 3:].copy()


def colourful(pixels: np.ndarray, share: float = 0.05) -> bool:
    """True when at least `share` of the screen is saturated colour: a test pattern is showing
    (the window's own chrome, text and placeholders are greys)."""
    spread = pixels.max(axis=2).astype(np.int16) - pixels.min(axis=2)
    return float((spread > 96).mean()) >= share


def save_png(pixels: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(pixels, "RGB").save(path)
