"""The motion detector: one grey picture in, one ``Detection`` out, a fraction of a millisecond.

Two algorithms, chosen per source:

* ``diff`` (default), after Frigate's "improved" detector: the picture is blurred (sensor
  noise and rain are finer than anything worth recording), its contrast stretched to its
  4th-96th percentile averaged over the last few seconds (a dark scene gets the same threshold
  as a bright one), and compared with a running average of the scene, stretched alike; pixels
  further from it than the threshold the sensitivity gives have changed.
* ``mog2``: OpenCV's Gaussian-mixture background subtractor with shadow detection, the
  shadows (value 127) thrown away, for scenes with moving shadows and trees, whose pixels
  take a few values in turn, which a mixture learns and a single running average cannot. A
  pixel must be foreground to MOG2 and also pass diff's per-pixel threshold, so the
  sensitivity and the zones' own sensitivities mean the same with both.

Both take out a change of the whole picture's brightness and contrast (exposure, dusk, a
flickering lamp) by mapping the background's quartiles onto the picture's when that explains
the picture better, raise the threshold over a noisy picture (rain, snow, infrared grain) to a
multiple of the lower quartile of its differences, open the changed pixels (rain's scattered
pixels go, blobs stay), find their contours and count those at least ``min_area`` of the
picture, inside the include zones if any are drawn and never inside an exclude mask. When
more than ``global_change`` of the picture changes at once (lights, the camera's infrared
switch, an exposure jump) the background is re-learned from the current picture and nothing
counts: a whole picture changing is a camera event, not a visitor.

Day and night: the caller says how colourful each picture is (``colour``); a picture that
stays monochrome for a few pictures is the camera's infrared mode, which switches the source to
its night settings; back in colour, to the day's. The switch re-learns the scene (an infrared
picture looks nothing like the day's) and counts as no motion.

Everything is pure and single-threaded: one detector per source, fed by one analyser thread.
The zones' masks are rasterised once per picture size and settings, not per picture.
docs/motion.md explains each setting; tests/vision checks each behaviour on scripted scenes.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from vision.settings import MotionSettings

# OpenCV's own thread pool off: a 180x100 picture is split between the analyser's thread and a
# pool worker woken for each blur/threshold/dilate, which costs more than the work (8 analysers
# at 20 pictures a second: 1.04 ms of CPU a picture with the pool, 0.63-0.72 without; in the
# 16-camera benchmark the pool's one worker used 4.6 % of a core). Each source has its own
# analyser thread already.
cv2.setNumThreads(1)

ANALYSIS_WIDTH = 180   # pictures are analysed about this wide (Y plane only)

# A picture wider than this is scaled down to ANALYSIS_WIDTH first; up to it, it is analysed
# as it comes (the recorder's swscale already made it about 180 wide).
_SCALE_ABOVE = ANALYSIS_WIDTH * 5 // 4
# The contrast stretch averages the percentiles of about this many recent pictures: long
# enough that one bright object entering does not re-stretch the whole picture, short enough
# to follow a camera's exposure within seconds.
_CONTRAST_HISTORY = 25
# The running average follows the scene with this time constant (Frigate's frame_alpha 0.01
# at 5 pictures a second): slow enough that a walker does not become background while he
# walks, fast enough that the sun's movement does.
_BACKGROUND_TAU_S = 20.0
# Motion that lasts this long is taken into the background anyway (Frigate: 10 pictures), so
# that a parked car stops being motion within about a background time constant.
_ABSORB_AFTER_S = 2.0
# After a re-learn the scene settles this long (cameras adjust exposure over a second or so):
# the background follows fast and nothing counts.
_SETTLE_S = 1.0
_SETTLE_ALPHA = 0.5
# Monochrome: mean |U-128| + |V-128| below _NIGHT_COLOUR for _SWITCH_PICTURES pictures in a row;
# colour again: above _DAY_COLOUR as long (the gap between them keeps a pale scene from
# flapping between the two).
_NIGHT_COLOUR = 2.0
_DAY_COLOUR = 4.0
_SWITCH_PICTURES = 3
_BLUR = (5, 5)
# A pixel must differ this many times the lower quartile of the picture's differences (its
# noise) to count: about 5 standard deviations of Gaussian noise, whose lower quartile of
# absolute values is a third of one.
_NOISE_FACTOR = 15.0
_DILATE = np.ones((3, 3), np.uint8)


def threshold_for(sensitivity: int) -> int:
    """The grey-level difference (after contrast stretch and blur) a pixel must exceed to have
    changed: sensitivity 50 gives Frigate's default 30, 100 gives 5, 1 gives 55."""
    return max(1, math.floor(55.5 - sensitivity * 0.5))


def var_threshold_for(sensitivity: int) -> float:
    """MOG2's squared Mahalanobis distance for a sensitivity: 50 gives OpenCV's default 16,
    each 25 steps halve or double it."""
    return 16.0 * 2.0 ** ((50 - sensitivity) / 25.0)


@dataclass(frozen=True)
class Detection:
    t: float                  # the picture's own time in seconds (stream time, monotonic)
    level: float              # share of the analysed (not masked) picture that changed, 0..1
    motion: bool              # counted change (>= min_area, inside include zones, not masked)
    zones: tuple[str, ...]    # names of the include zones the counted change touched
    boxes: tuple[tuple[float, float, float, float], ...]  # normalised (x, y, w, h)
    relearned: bool           # a global change or a day/night switch: the scene was re-learned
    night: bool               # the picture is monochrome: the night settings are in force
    changed: np.ndarray | None = None   # uint8 0/255 changed pixels at analysis size (tuner)


# The grey levels _levels() finds: the contrast stretch's ends and the quartiles.
_LEVELS = np.array([0.04, 0.25, 0.5, 0.75, 0.96])


def _levels(picture: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The grey levels at the _LEVELS shares of the picture (inside ``mask``), from one
    histogram (a tenth of np.percentile's cost)."""
    hist = cv2.calcHist([picture], [0], mask, [256], [0, 256]).ravel().cumsum()
    return np.searchsorted(hist, hist[-1] * _LEVELS)


def _lower_quartile(picture: np.ndarray, mask: np.ndarray | None) -> int:
    hist = cv2.calcHist([picture], [0], mask, [256], [0, 256]).ravel().cumsum()
    return int(np.searchsorted(hist, hist[-1] * 0.25))


def _linear_map(source: np.ndarray, target: np.ndarray) -> tuple[float, float] | None:
    """(gain, offset) mapping grey levels of a picture with quartiles ``source`` linearly onto
    ``target``'s (gain from the interquartile ranges, offset from the medians), or None when
    they already match. The gain is bounded to 2/3..3/2: a bigger change is no exposure
    drift, and the global-change rule deals with it."""
    spread = float(source[2]) - float(source[0])
    gain = (float(target[2]) - float(target[0])) / spread if spread >= 4 else 1.0
    gain = min(1.5, max(2.0 / 3.0, gain))
    offset = float(target[1]) - gain * float(source[1])
    if abs(gain - 1.0) < 0.01 and abs(offset) < 0.5:
        return None
    return gain, offset


def _photometric(source: np.ndarray, target: np.ndarray) -> np.ndarray | None:
    """``_linear_map`` as a lookup table of grey levels, or None when the quartiles match."""
    found = _linear_map(source, target)
    if found is None:
        return None
    gain, offset = found
    return np.clip(np.arange(256, dtype=np.float32) * gain + offset, 0, 255).astype(np.uint8)


def _stretch_table(levels: np.ndarray) -> np.ndarray:
    """Grey levels (the float ``levels`` of 0..255) as int16 stretched levels, floored like
    the uint8 table they once were, but not saturated to 0..255 (``MotionDetector._prepare``)."""
    return np.clip(np.floor(levels), -32768, 32767).astype(np.int16)


_IDENTITY = _stretch_table(np.arange(256, dtype=np.float32))


class _Masks:
    """The zones rasterised at one picture size: a per-pixel threshold (255 = not analysed),
    the analysed area, and each include zone's own mask (to name the zones motion touched)."""

    def __init__(self, settings: MotionSettings, night: bool, height: int, width: int) -> None:
        base = threshold_for(settings.sensitivity_for(night))
        self.base = base
        includes = [z for z in settings.zones if z.kind == "include"]
        # MOG2's threshold: the most sensitive in force anywhere (the per-pixel thresholds
        # then hold each zone to its own)
        self.most_sensitive = max([z.sensitivity or settings.sensitivity_for(night)
                                   for z in includes] or [settings.sensitivity_for(night)])
        scale = np.array([width, height], np.float64)

        def polygon(zone) -> np.ndarray:
            pts = np.round(np.array(zone.points, np.float64) * scale - 0.5)
            return pts.astype(np.int32).reshape(-1, 1, 2)

        excludes = [z for z in settings.zones if z.kind == "exclude"]
        thresholds = np.full((height, width), 255 if includes else base, np.uint8)
        # Where include zones overlap the most sensitive wins: fill the least sensitive first.
        def own(zone) -> int:
            return threshold_for(zone.sensitivity) if zone.sensitivity else base

        for zone in sorted(includes, key=own, reverse=True):
            cv2.fillPoly(thresholds, [polygon(zone)], own(zone))
        self.keep: np.ndarray | None = None   # 0 inside exclude masks, else 255
        if excludes:
            self.keep = np.full((height, width), 255, np.uint8)
        for zone in excludes:
            cv2.fillPoly(thresholds, [polygon(zone)], 255)
            cv2.fillPoly(self.keep, [polygon(zone)], 0)
        self.thresholds = thresholds
        self.analysed = np.where(thresholds < 255, 255, 0).astype(np.uint8)
        self.analysed_pixels = int(cv2.countNonZero(self.analysed))
        self.analysed_sub = None if not (includes or excludes) \
            else np.ascontiguousarray(self.analysed[::2, ::2])
        self.whole = not includes and not excludes
        self.zones: list[tuple[str, np.ndarray]] = []
        for zone in includes:
            mask = np.zeros((height, width), np.uint8)
            cv2.fillPoly(mask, [polygon(zone)], 255)
            self.zones.append((zone.name, cv2.bitwise_and(mask, self.analysed)))
        self.min_pixels = settings.min_area_for(night) * height * width


class MotionDetector:
    """Pictures of one source in, detections out (module docstring)."""

    def __init__(self, settings: MotionSettings) -> None:
        self._settings = settings
        self._masks: dict[tuple[int, int, bool], _Masks] = {}
        self._night = False
        self._colour_run = 0          # pictures in a row that argue for the other mode
        self._reset_background()

    # --- settings ----------------------------------------------------------------------------
    def configure(self, settings: MotionSettings) -> None:
        """Change settings live. The learned background is kept (it is the scene's, not the
        settings'); only a change of algorithm starts learning again."""
        algorithm_changed = settings.algorithm != self._settings.algorithm
        self._settings = settings
        self._masks.clear()
        if algorithm_changed:
            self._reset_background()

    @property
    def settings(self) -> MotionSettings:
        return self._settings

    def _reset_background(self) -> None:
        self._avg: np.ndarray | None = None
        self._mog2 = None
        self._contrast: deque[tuple[int, int]] = deque(maxlen=_CONTRAST_HISTORY)
        self._lut: np.ndarray | None = None
        self._quartiles = np.zeros(3, np.int64)
        self._last_t: float | None = None
        self._motion_since: float | None = None
        self._settle_until = float("-inf")

    def _masks_for(self, height: int, width: int) -> _Masks:
        key = (height, width, self._night)
        masks = self._masks.get(key)
        if masks is None:
            masks = self._masks[key] = _Masks(self._settings, self._night, height, width)
        return masks

    # --- pictures ----------------------------------------------------------------------------
    def feed(self, grey: np.ndarray, t: float, *, colour: float | None = None,
             keep_mask: bool = False) -> Detection:
        if grey.ndim != 2 or grey.dtype != np.uint8 or min(grey.shape) < 8:
            raise ValueError("a picture must be a 2-D uint8 array at least 8x8")
        if not math.isfinite(t):
            raise ValueError("a picture's time must be a finite number of seconds")
        if not grey.flags.c_contiguous:     # a plane cut out of a padded frame buffer
            grey = np.ascontiguousarray(grey)
        if grey.shape[1] > _SCALE_ABOVE:
            height = max(8, round(grey.shape[0] * ANALYSIS_WIDTH / grey.shape[1]))
            grey = cv2.resize(grey, (ANALYSIS_WIDTH, height), interpolation=cv2.INTER_AREA)
        height, width = grey.shape
        if self._avg is not None and self._avg.shape != grey.shape:
            self._reset_background()    # the camera's resolution changed: a new scene
        switched = self._day_or_night(colour)
        if not self._settings.enabled:
            return Detection(t, 0.0, False, (), (), False, self._night)
        masks = self._masks_for(height, width)
        picture = self._prepare(grey, masks)
        dt = t - self._last_t if self._last_t is not None else None
        self._last_t = t
        if dt is not None and dt < 0:
            # The stream's time went back (a new stream after a reconnect): the pictures
            # before are another stream's, and a settling deadline in their time is void.
            self._settle_until = float("-inf")
            switched = True
        settling = t < self._settle_until

        if switched or self._learning_first(picture):
            return self._relearn(picture, t, keep_mask, height, width)

        changed, raw = self._changed(picture, masks, settling)
        if raw > self._settings.global_change:
            return self._relearn(picture, t, keep_mask, height, width, level=raw)
        # Opening first: rain, snow and sensor noise change scattered single pixels, which an
        # erosion removes; what survives is a blob, which the dilation then closes up.
        changed = cv2.dilate(cv2.erode(changed, _DILATE), _DILATE, iterations=2)
        if not masks.whole:
            changed = cv2.bitwise_and(changed, masks.analysed)
        level = cv2.countNonZero(changed) / masks.analysed_pixels if masks.analysed_pixels else 0.0
        # (``changed`` is this call's own array: the tuner may keep it, no copy needed)
        if settling:
            cv2.accumulateWeighted(picture, self._avg, _SETTLE_ALPHA)
            return Detection(t, level, False, (), (), False, self._night,
                             changed if keep_mask else None)

        boxes, counted = self._count(changed, masks, width, height)
        motion = bool(boxes)
        zones: tuple[str, ...] = ()
        if motion and masks.zones:
            zones = tuple(name for name, mask in masks.zones
                          if cv2.countNonZero(cv2.bitwise_and(mask, counted)))
        self._follow_scene(picture, dt, motion, t)
        return Detection(t, level, motion, zones, boxes, False, self._night,
                         changed if keep_mask else None)

    def _day_or_night(self, colour: float | None) -> bool:
        """Track monochrome pictures; True when this picture switches day <-> night."""
        if colour is None:
            self._colour_run = 0
            return False
        other = colour >= _DAY_COLOUR if self._night else colour < _NIGHT_COLOUR
        self._colour_run = self._colour_run + 1 if other else 0
        if self._colour_run < _SWITCH_PICTURES:
            return False
        self._night = not self._night
        self._colour_run = 0
        return True

    def _prepare(self, grey: np.ndarray, masks: _Masks) -> np.ndarray:
        """Black out the exclude masks (as Frigate does: a clock's changing digits must not
        leak past its mask through the blur), blur, and make the contrast stretch of this
        picture (``self._lut``): the 4th-96th percentile of the analysed area, averaged over
        recent pictures, onto 0..255.

        The background is learned unstretched and stretched with the same table as the
        picture when they are compared: a stretch that drifts (a bright visitor, exposure)
        then moves both alike and shows as no difference, while a dark scene and a bright one
        still get the same threshold. The stretched levels are int16 and not saturated to
        0..255 before the difference is taken (only the difference is): a stretch that
        clipped would turn a white visitor over the scene's brightest part (a light-grey
        wall, SMPTE bars' grey bar covering more than 4 % of the picture) and that part both
        into 255, or a black one over the darkest both into 0, no difference at all
        (tests/vision/test_bright_over_bright.py)."""
        if masks.keep is not None:
            grey = cv2.bitwise_and(grey, masks.keep)
        picture = cv2.GaussianBlur(grey, _BLUR, 0)
        levels = _levels(picture, None if masks.whole else masks.analysed)
        low, high = int(levels[0]), int(levels[4])
        self._quartiles = levels[1:4]     # the exposure compensation's (_changed)
        if low < high:      # a picture of one grey says nothing about contrast
            self._contrast.append((low, high))
        self._lut = None
        if self._contrast:
            lows, highs = zip(*self._contrast)
            low_avg, high_avg = sum(lows) / len(lows), sum(highs) / len(highs)
            if high_avg - low_avg >= 1.0:
                self._lut = _stretch_table((np.arange(256, dtype=np.float32) - low_avg)
                                           * (255.0 / (high_avg - low_avg)))
        return picture

    def _learning_first(self, picture: np.ndarray) -> bool:
        if self._settings.algorithm == "mog2":
            return self._mog2 is None
        return self._avg is None

    def _relearn(self, picture: np.ndarray, t: float, keep_mask: bool, height: int, width: int,
                 *, level: float = 0.0) -> Detection:
        """Take the current picture as the scene: the first picture, a global change, a
        day/night switch. The contrast history starts again from this picture too (the old
        one describes the old scene), and the scene settles for a second."""
        first = self._avg is None and self._mog2 is None
        last = self._contrast[-1] if self._contrast else None
        self._contrast.clear()
        if last is not None:
            self._contrast.append(last)
        if self._settings.algorithm == "mog2":
            if self._mog2 is None:
                self._mog2 = cv2.createBackgroundSubtractorMOG2(detectShadows=True)
            self._mog2.setVarThreshold(var_threshold_for(
                self._settings.sensitivity_for(self._night)))
            self._mog2.apply(picture, learningRate=1.0)
        self._avg = picture.astype(np.float32)
        self._motion_since = None
        self._settle_until = t + _SETTLE_S if not first else float("-inf")
        changed = np.zeros((height, width), np.uint8) if keep_mask else None
        return Detection(t, level, False, (), (), not first, self._night, changed)

    def _changed(self, picture: np.ndarray, masks: _Masks,
                 settling: bool) -> tuple[np.ndarray, float]:
        """0/255 pixels that differ from the learned scene (before the morphology), and the
        share of the analysed picture that differs from it at all: the global-change measure,
        taken before any compensation, so that lights switched on re-learn the scene.

        A change of the whole picture's brightness and contrast is taken out first (exposure
        adjusting, the contrast stretch catching up, dusk): the background's quartiles are
        mapped linearly onto the picture's (``_photometric``), which a visitor covering less
        than a quarter of the picture barely moves. A pixel has changed when it differs from
        the running average by more than its threshold (the sensitivity of the zone it is in,
        raised by the noise floor) and, with ``mog2``, when MOG2 also finds it unlike every
        mode it learned there and no shadow: MOG2 runs at the most sensitive threshold in
        force, and the per-pixel threshold gives each include zone its own sensitivity with
        both algorithms."""
        analysed = None if masks.whole else masks.analysed
        background = cv2.convertScaleAbs(self._avg)
        # Quartiles of the analysed area: the picture's from _prepare, the background's.
        scene_q, picture_q = _levels(background, analysed)[1:4], self._quartiles
        # Stretched alike, as int16 (_prepare: nothing saturates before the difference does).
        stretch = self._lut if self._lut is not None else _IDENTITY
        stretched = cv2.LUT(picture, stretch)
        delta = cv2.convertScaleAbs(cv2.absdiff(stretched, cv2.LUT(background, stretch)))
        raw = cv2.countNonZero(cv2.compare(delta, masks.thresholds, cv2.CMP_GT))
        # (every other pixel of every other row is plenty for a quartile)
        noise = _lower_quartile(delta[::2, ::2], masks.analysed_sub)
        exposure = _linear_map(stretch[scene_q], stretch[picture_q])
        mapped = False
        if exposure is not None:
            # The mapping is kept only if it explains the picture better than none: lights
            # or exposure, it brings most pixels back to the scene; a lorry filling half the
            # view moves the quartiles too, but mapping the scene then makes the half it does
            # not cover differ. (One table: the scene stretched, then mapped.)
            gain, offset = exposure
            to_picture = _stretch_table(stretch.astype(np.float32) * gain + offset)
            remapped = cv2.convertScaleAbs(cv2.absdiff(stretched,
                                                       cv2.LUT(background, to_picture)))
            remapped_noise = _lower_quartile(remapped[::2, ::2], masks.analysed_sub)
            if remapped_noise <= noise:
                delta, noise, mapped = remapped, remapped_noise, True
        # Noise floor: rain, snow and a noisy night picture raise the difference of every
        # pixel; a pixel must then stand out _NOISE_FACTOR times the lower quartile of the
        # differences (robust to a visitor covering up to three quarters of the picture,
        # which a median is not).
        thresholds = masks.thresholds
        floor = _NOISE_FACTOR * noise
        if floor > masks.base:
            thresholds = cv2.add(thresholds, int(floor) - masks.base)
        changed = cv2.compare(delta, thresholds, cv2.CMP_GT)
        if self._settings.algorithm == "mog2":
            self._mog2.setVarThreshold(var_threshold_for(masks.most_sensitive))
            # MOG2's model cannot be remapped: the picture is mapped onto the scene's
            # brightness instead, when the mapping was kept. MOG2 learns as it tests: at its
            # own rate (1/history), fast while settling.
            to_scene = _photometric(picture_q, scene_q) if mapped else None
            seen = cv2.LUT(picture, to_scene) if to_scene is not None else picture
            found = self._mog2.apply(seen, learningRate=_SETTLE_ALPHA if settling else -1)
            # 255 foreground, 127 shadow, 0 background: shadows are not motion.
            changed = cv2.bitwise_and(changed,
                                      cv2.threshold(found, 200, 255, cv2.THRESH_BINARY)[1])
        return changed, raw / max(1, masks.analysed_pixels)

    def _count(self, changed: np.ndarray, masks: _Masks, width: int, height: int):
        """Bounding boxes (normalised) of the contours big enough to count, and a mask of
        those contours (to name the zones they touch)."""
        contours, _ = cv2.findContours(changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = []
        kept = []
        for contour in contours:
            if cv2.contourArea(contour) < masks.min_pixels or len(contour) < 3:
                continue
            x, y, w, h = cv2.boundingRect(contour)
            boxes.append((x / width, y / height, w / width, h / height))
            kept.append(contour)
        counted = None
        if kept and masks.zones:
            counted = np.zeros_like(changed)
            cv2.drawContours(counted, kept, -1, 255, thickness=cv2.FILLED)
            counted = cv2.bitwise_and(counted, changed)
        return tuple(boxes), counted

    def _follow_scene(self, picture: np.ndarray, dt: float | None, motion: bool,
                      t: float) -> None:
        """Update the running average: always while nothing moves; while something moves only
        once it has gone on for _ABSORB_AFTER_S (then it is part of the scene). MOG2 learned
        the picture in apply(); its running average only gives the scene's brightness."""
        if motion:
            if self._motion_since is None:
                self._motion_since = t
            if t - self._motion_since < _ABSORB_AFTER_S:
                return
        else:
            self._motion_since = None
        alpha = min(1.0, max(0.0, dt or 0.0) / _BACKGROUND_TAU_S)
        if alpha > 0.0:
            cv2.accumulateWeighted(picture, self._avg, alpha)
