#!/usr/bin/python3
"""A real RTSP test camera: GStreamer's RTSP server serving live H.264.

Run it with the *system* Python (it needs python3-gi and GStreamer's
typelibs, which the project's virtualenv does not have)::

    /usr/bin/python3 tests/support/rtsp_camera.py --port 8554 \
        [--width 1920 --height 1080 --fps 25 --gop-seconds 2 \
         --bitrate-kbps 4000] [--path /cam [--path /sub:640x360]] \
        [--audio none|aac|pcma] [--codec h264|h265] \
        [--auth USER:PASS [--auth-method basic|digest]] \
        [--watch-stdin] [--verbose]
    /usr/bin/python3 tests/support/rtsp_camera.py --port 0 --clip clip.mp4

A mount point may have a size of its own, ``--path NAME:WxH`` (a camera's
sub-stream: the same picture, smaller, its bitrate scaled by the area); the
others use ``--width``/``--height``.

``--clip`` serves an already encoded H.264 MP4 instead of encoding live (see
``clip_launch_line``): many cameras at 1080p cost next to nothing.  It is
served on every mount point that has no clip of its own; ``--path
NAME=CLIP`` gives one mount point its own clip, so a camera can serve a
scripted scene as a main stream and the same scene, smaller, as its preview
stream::

    rtsp_camera.py --port 0 --path /main=scene.mp4 --path /sub=scene_360p.mp4

Mount points without a clip (and without ``--clip``) encode live as before.

``--codec h265`` encodes live H.265 with x265 instead of H.264 (not with
``--clip``).  ``--auth USER:PASS`` makes every mount point require those
credentials, with HTTP Basic (the default) or Digest authentication
(``--auth-method digest``, which then is the only method offered); the
URLs printed stay without credentials.

Once the server listens it prints one line to stdout, ``READY <url> ...``
(one URL per mount point, the first being the main one); ``--port 0`` lets
the kernel choose a free port, which the URL then shows. SIGTERM or SIGINT
ends it cleanly, and so does EOF on stdin when ``--watch-stdin`` is given
(so a camera whose test process died does not linger).

Why the pipeline looks the way it does (all measured on a 2-core machine):

* ``x264enc tune=zerolatency speed-preset=ultrafast``: one 1080p25 encoder
  costs about a third of a core, so the camera must stay this light.
* ``factory.set_shared(False)``: each client gets its own pipeline.  A shared
  media made the timestamps of the running clients jump when another joined.
* ``x265enc tune=zerolatency speed-preset=ultrafast`` for H.265 costs about
  five times x264 (720p25: 0.9 core against 0.17; 320x240: 0.12 against
  0.04): keep H.265 cameras small.
* ``h264parse config-interval=-1`` before ``rtph264pay``: x264's sliced
  threads emit each IDR as two slices, and ``rtph264pay config-interval=-1``
  then split the IDR into two packets; h264parse inserts SPS/PPS into every
  IDR access unit instead, so each keyframe is self-contained (and
  ``h265parse config-interval=-1`` puts VPS/SPS/PPS in front of each IRAP).
* Force a keyframe on PLAY: what the encoder produces before the client's
  PLAY (including the very first IDR, made while the media prepares) never
  reaches the client, which would otherwise wait up to a whole GOP.  When a
  media goes to PLAYING we send a force-key-unit event to its encoder and
  drop the few delta frames still in flight until that keyframe passes, so
  the first video packet a client receives is a keyframe.
"""
import argparse
import os
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

# The one role an authenticated client gets (see ``make_auth``).
ROLE = "user"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True,
                   help="TCP port to listen on (0: any free port)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--width", type=int, default=1920)
    p.add_argument("--height", type=int, default=1080)
    p.add_argument("--fps", type=int, default=25)
    p.add_argument("--gop-seconds", type=float, default=2.0)
    p.add_argument("--bitrate-kbps", type=int, default=4000)
    p.add_argument("--path", action="append", dest="paths",
                   help="mount point, may be repeated (default /cam); "
                        "NAME:WxH gives it a size of its own (a sub-stream), "
                        "NAME=CLIP an H.264 MP4 of its own to serve")
    p.add_argument("--pattern", default="smpte",
                   help="videotestsrc pattern (e.g. smpte, ball, snow)")
    p.add_argument("--bframes", type=int, default=0,
                   help="B-frames between references (H.264: drops zerolatency)")
    p.add_argument("--audio", choices=("none", "aac", "pcma", "l16"), default="none",
                   help="add a live sine-tone audio stream")
    p.add_argument("--clip", default=None,
                   help="serve this H.264 MP4 (from the start, in real time, "
                        "to each client) instead of encoding live")
    p.add_argument("--codec", choices=("h264", "h265"), default="h264",
                   help="video codec of the live encoder (not with --clip)")
    p.add_argument("--auth", default=None, metavar="USER:PASS",
                   help="require these credentials for every mount point")
    p.add_argument("--auth-method", choices=("basic", "digest"),
                   default="basic",
                   help="HTTP authentication scheme offered with --auth")
    p.add_argument("--watch-stdin", action="store_true",
                   help="exit when stdin reaches EOF (parent died)")
    p.add_argument("--verbose", action="store_true", help="log to stderr")
    p.add_argument("--log-play", action="store_true",
                   help="print 'PLAY <path> <unix time>' to stderr when a client's media "
                        "starts playing (a clip's time 0 in wall time, for latencies)")
    args = p.parse_args(argv)
    if args.auth is not None:
        user, sep, password = args.auth.partition(":")
        if not sep or not user:
            p.error("--auth wants USER:PASS")
        args.auth = (user, password)
    args.sizes = {}  # mount point -> (width, height) when not the main size
    args.clips = {}  # mount point -> the clip it serves (its own, else --clip)
    paths = []
    for spec in args.paths or ["/cam"]:
        # NAME=CLIP first: a clip's file name may hold a ":" but a mount point may not
        spec_name, has_clip, clip = spec.partition("=")
        name, sep, size = spec_name.partition(":")
        path = "/" + name.strip("/")
        if path in paths:
            p.error(f"--path {path!r} given twice")
        if has_clip and not clip:
            p.error(f"--path {spec!r}: NAME=CLIP wants a file after '='")
        clip = clip or args.clip
        if sep:
            width, x, height = size.partition("x")
            if not (x and width.isdigit() and height.isdigit()):
                p.error(f"--path {spec!r}: the size must be WxH, e.g. /sub:640x360")
            if clip:
                p.error("a clip is served at its own size (no NAME:WxH with a clip)")
            args.sizes[path] = (int(width), int(height))
        if clip:
            args.clips[path] = clip
        paths.append(path)
    if args.clips and args.codec != "h264":
        p.error("a clip is H.264 only (--codec h265 needs live encoding)")
    args.paths = paths
    return args


def clip_launch_line(clip):
    """One client's media when serving a pre-encoded clip.

    Every client gets its own pipeline, so its stream starts at the clip's
    first frame, a keyframe, when it sends PLAY: a non-live media waits,
    prerolled, until then and the RTSP sink paces it at real time.  Nothing
    is encoded, which is what lets one small machine serve dozens of 1080p
    cameras.  The payloader sends the clip's packets unchanged except that
    h264parse puts SPS/PPS in front of every keyframe, as a camera would.
    """
    location = str(clip).replace("\\", "\\\\").replace('"', '\\"')
    return (f'( filesrc location="{location}" ! qtdemux ! '
            "h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96 )")


def launch_line(args, size=None, clip=None):
    """The gst-launch description of one client's media; `size` (width,
    height) for a sub-stream, whose bitrate shrinks with its area; `clip` for
    a mount point serving a pre-encoded clip."""
    if clip:
        return clip_launch_line(clip)
    width, height = size or (args.width, args.height)
    bitrate = args.bitrate_kbps
    if size:
        bitrate = max(100, round(bitrate * width * height / (args.width * args.height)))
    gop = max(1, round(args.fps * args.gop_seconds))
    # The encoder and parser keep the names "enc" and "parse" whatever the
    # codec: KeyframeOnPlay finds them by those names.
    encoder = {"h264": "x264enc", "h265": "x265enc"}[args.codec]
    # zerolatency forbids B-frames; a camera that sends them is what FFmpeg must read
    # (and the ultrafast preset turns them off whatever `bframes` says)
    tune = (f"bframes={args.bframes} b-adapt=false speed-preset=veryfast rc-lookahead=5"
            if args.bframes and args.codec == "h264"
            else "tune=zerolatency speed-preset=ultrafast")
    video = (
        f"videotestsrc is-live=true pattern={args.pattern} "
        f"! video/x-raw,width={width},height={height},"
        f"framerate={args.fps}/1 "
        "! clockoverlay time-format=\"%H:%M:%S\" "
        f"! {encoder} name=enc {tune} "
        f"key-int-max={gop} bitrate={bitrate} "
        # without a profile the payloader's peer settles on one without B-frames
        f"{'! video/x-h264,profile=high ' if args.bframes and args.codec == 'h264' else ''}"
        f"! {args.codec}parse name=parse config-interval=-1 "
        f"! rtp{args.codec}pay name=pay0 pt=96")
    audio = {
        "none": "",
        "aac": " audiotestsrc is-live=true wave=sine freq=440 "
               "! audio/x-raw,rate=48000,channels=1 ! voaacenc "
               "! rtpmp4gpay name=pay1 pt=97",
        "pcma": " audiotestsrc is-live=true wave=sine freq=440 "
                "samplesperbuffer=160 "
                "! audio/x-raw,rate=8000,channels=1 ! alawenc "
                "! rtppcmapay name=pay1 pt=8",
        # raw PCM: audio the station's own RTSP reader leaves to FFmpeg
        "l16": " audiotestsrc is-live=true wave=sine freq=440 samplesperbuffer=160 "
               "! audio/x-raw,rate=8000,channels=1,format=S16BE ! rtpL16pay name=pay1 pt=97",
    }[args.audio]
    return f"( {video}{audio} )"


def make_auth(user, password, method):
    """Server authentication letting only ``user``/``password`` in.

    A client that authenticates gets a token with the role ``ROLE``; each
    media factory then grants that role access and construct permissions
    (see ``make_permissions``), so a client without it gets 401.  Digest is
    offered alone when asked for, so a test can tell the two schemes apart.
    """
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, ROLE)
    if method == "digest":
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        auth.add_digest(user, password, token)
    else:
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password),
                       token)
    return auth


def make_permissions():
    """Factory permissions: role ``ROLE`` may see and build the media."""
    permissions = GstRtspServer.RTSPPermissions()
    for perm in (GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS,
                 GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT):
        permissions.add_permission_for_role(ROLE, perm, True)
    return permissions


class KeyframeOnPlay:
    """Per-media helper: make the first frame a client receives a keyframe."""

    def __init__(self, pipeline, log):
        self.encoder = pipeline.get_by_name("enc")
        self.log = log
        self.waiting = False
        self.dropped = 0
        pad = pipeline.get_by_name("parse").get_static_pad("src")
        pad.add_probe(Gst.PadProbeType.BUFFER, self._probe)

    def on_new_state(self, media, state):
        if state != Gst.State.PLAYING:
            return
        self.waiting = True
        self.dropped = 0
        self.play_time = time.monotonic()
        # GstVideo's force-key-unit event, built by hand so the script does
        # not need the GstVideo typelib; "all-headers" asks for SPS/PPS too.
        structure = Gst.Structure.new_from_string(
            "GstForceKeyUnit, all-headers=(boolean)true")
        event = Gst.Event.new_custom(Gst.EventType.CUSTOM_UPSTREAM, structure)
        self.log("media PLAYING: forcing a keyframe",
                 self.encoder.send_event(event))

    def _probe(self, pad, info):
        if not self.waiting:
            return Gst.PadProbeReturn.OK
        if info.get_buffer().has_flags(Gst.BufferFlags.DELTA_UNIT):
            self.dropped += 1
            return Gst.PadProbeReturn.DROP
        self.waiting = False
        delay_ms = (time.monotonic() - self.play_time) * 1000
        self.log(f"keyframe {delay_ms:.0f} ms after PLAY, "
                 f"{self.dropped} delta frames dropped before it")
        return Gst.PadProbeReturn.OK


def main(argv=None):
    args = parse_args(argv)
    Gst.init(None)

    def log(*parts):
        if args.verbose:
            print("rtsp_camera:", *parts, file=sys.stderr, flush=True)

    def on_media_configure(factory, media, path):
        if media.get_element().get_by_name("enc") is not None:  # a clip starts at a keyframe
            helper = KeyframeOnPlay(media.get_element(), log)
            media.connect("new-state", helper.on_new_state)
        if args.log_play:
            media.connect("new-state", _log_play, path)
        log("new media for a client")

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    if args.auth:
        server.set_auth(make_auth(*args.auth, args.auth_method))
        log("auth:", args.auth_method, "user", args.auth[0])
    mounts = server.get_mount_points()
    for path in args.paths:
        launch = launch_line(args, args.sizes.get(path), args.clips.get(path))
        log("launch", path + ":", launch)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(False)
        if args.auth:
            factory.set_permissions(make_permissions())
        factory.connect("media-configure", on_media_configure, path)
        mounts.add_factory(path, factory)
    server.connect("client-connected", lambda s, c: log("client connected"))

    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"rtsp_camera: cannot listen on {args.host}:{args.port}",
              file=sys.stderr, flush=True)
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, signum, loop.quit)
    if args.watch_stdin:
        GLib.io_add_watch(sys.stdin.fileno(), GLib.PRIORITY_DEFAULT,
                          GLib.IOCondition.IN | GLib.IOCondition.HUP,
                          _on_stdin, loop)

    port = server.get_bound_port()
    urls = [f"rtsp://{args.host}:{port}{path}" for path in args.paths]
    print("READY", *urls, flush=True)
    loop.run()
    log("stopping")
    return 0


def _log_play(media, state, path):
    if state == Gst.State.PLAYING:
        print(f"PLAY {path} {time.time():.3f}", file=sys.stderr, flush=True)


def _on_stdin(fd, condition, loop):
    if condition & GLib.IOCondition.HUP or not os.read(fd, 4096):
        loop.quit()
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
