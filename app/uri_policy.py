"""What a URI given to the station may open: one policy for camera sources, snapshot
cameras, RTMP forwards and HTTP callbacks.

Every URI the station opens comes from a client, so it is hostile until checked here:

- its scheme is on the allow-list of what it is for (`SOURCE_SCHEMES`, `PICTURE_SCHEMES`,
  `FORWARD_SCHEMES`, `CALLBACK_SCHEMES`);
- no FFmpeg protocol prefix hides anywhere in it (`concat:`, `subfile:`, `pipe:`, `data:`,
  `crypto:`, `file:`, `hls+http:` ...), raw or percent-encoded, in the host, path, query or
  fragment: FFmpeg nests protocols, so such a prefix reaches files and pipes;
- `file://` reads only below a folder of the `media_dirs` setting, after symlinks and `..`
  are resolved (a symlink in a media folder pointing elsewhere is refused);
- `device://` names a V4L2 camera and `screen://` a local X display, nothing else.

Where the URI names its host by address, that address must be one the station's outgoing
policy (`recorder.outgoing`, the `allowed_source_networks` setting) allows: a link-local or
cloud metadata address (`http://169.254.169.254/...`) is refused when the URI is saved. A name
is checked on what it resolves to when the station connects (the recorder, `Outgoing`).

The test pattern's URI has one grammar, `recorder.inputs.TestPatternConfig`; the front ends
(which never import the recorder) take it, and its `TEST_PATTERNS`, from here.

A refusal is an `InvalidInput` naming the field (a 422 in the native API). Its text depends on
the URI alone, never on what exists on disk or on the network: the station must not become
an oracle for which files exist or which ports are open. The recorder adds FFmpeg's own
`protocol_whitelist` for every input it opens (`recorder.inputs`), so a playlist cannot pull
in other protocols either.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import SplitResult, unquote, urlsplit

from app.errors import InvalidInput
from recorder.inputs import TEST_PATTERNS, TestPatternConfig, file_path
from recorder.outgoing import DEFAULT_NETWORKS, OutgoingPolicy, is_ip_address

SOURCE_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "srt", "udp", "tcp",
                  "file", "testsrc", "device", "screen")
PICTURE_SCHEMES = ("http", "https")
FORWARD_SCHEMES = ("rtmp", "rtmps")
CALLBACK_SCHEMES = ("http", "https")
MAX_URI_CHARS = 4096

# Schemes whose URI must name a host (srt and udp may listen, `srt://:9000?mode=listener`).
NEEDS_HOST = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "tcp")
# Schemes whose host may be where the station listens (a local address, a multicast group).
LISTENING = ("udp", "srt")
# Schemes the station connects out for, whose host the outgoing policy checks.
NETWORK_SCHEMES = NEEDS_HOST + LISTENING

# FFmpeg's protocols (`ffmpeg -protocols`, 8.x, with the optional ones) and a few URL schemes
# that have no business inside a camera address. Any of them followed by ":" (or "+...:")
# after the scheme of the URI is a nested protocol and refused.
FFMPEG_PROTOCOLS = frozenset("""
    android_content async bluray cache concat concatf crypto data dash dvd fd ffrtmpcrypt
    ffrtmphttp file ftp gopher gophers hls http httpproxy https icecast ipfs ipns librist
    librtmp librtmpe librtmps librtmpt librtmpte libsmbclient libsrt libssh libzmq md5 mmsh
    mmst pipe prompeg rist rtmp rtmpe rtmps rtmpt rtmpte rtmpts rtp rtsp rtsps sctp sftp smb
    srt srtp subfile tcp tee tls udp udplite unix zmq
    jar javascript ldap ldaps dict telnet ssh scp sip tftp mailto gs s3 nfs
""".split())
_NESTED = re.compile(
    r"(?<![a-z0-9.+-])(?:" + "|".join(sorted(FFMPEG_PROTOCOLS, key=len, reverse=True))
    + r")(?:\+[a-z0-9+.-]*)?:", re.IGNORECASE)
_COMBINED = re.compile(r"(?<![a-z0-9.+-])[a-z][a-z0-9.-]*\+[a-z0-9+.-]*:", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOST = re.compile(r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]*)(?::(?P<port>\d{1,5}))?")
# a V4L2 node: /dev/videoN, its /dev/v4l/by-id|by-path links, or a videoN node elsewhere
_DEVICE = re.compile(r"/dev/v4l/by-(?:id|path)/[A-Za-z0-9._:-]+|(?:/(?!\.\.?/)[A-Za-z0-9._-]+)*/video\d{1,3}")
_DISPLAY = re.compile(r":\d{1,4}(?:\.\d{1,3})?(?:\+\d{1,5},\d{1,5})?")


def refuse(field: str, problem: str) -> InvalidInput:
    return InvalidInput(f"{field}: {problem}", field=field)


def check_uri(uri: object, *, field: str, schemes: Sequence[str],
              media_dirs: Iterable[Path] = (), policy: OutgoingPolicy | None = None) -> str:
    """Return `uri` when it is allowed for `field`, else raise `InvalidInput` naming it.
    `media_dirs`: the folders `file://` may read from (the live `media_dirs` setting);
    `policy`: the outgoing-address policy a host given as an address must pass (None: only
    the addresses no policy allows, link-local and metadata ones, are refused)."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInput(f"{field} is required", field=field, kind="missing")
    if len(uri) > MAX_URI_CHARS:
        raise refuse(field, f"the address is longer than {MAX_URI_CHARS} characters")
    if _CONTROL.search(uri):
        raise refuse(field, "the address holds control characters")
    scheme, sep, _ = uri.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise refuse(field, "the address must begin with one of "
                            + ", ".join(f"{name}://" for name in schemes))
    if scheme not in schemes:
        shown = scheme if re.fullmatch(r"[a-z][a-z0-9+.-]{0,19}", scheme) else "(invalid)"
        raise refuse(field, f"unsupported URI scheme {shown!r}; use one of "
                            + ", ".join(f"{name}://" for name in schemes))
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise refuse(field, f"not a valid URI: {exc}") from None
    if scheme != "file" and re.search(r"\s", uri):
        raise refuse(field, "the address holds white space")
    _check_nested(field, parts)
    if scheme == "testsrc":
        try:
            TestPatternConfig.from_uri(uri)
        except ValueError as exc:
            raise refuse(field, str(exc)) from None
    elif scheme == "screen":
        if not _DISPLAY.fullmatch(parts.netloc + parts.path) or parts.query or parts.fragment:
            raise refuse(field, "a screen capture names a local display, like screen://:0.0")
    elif scheme == "device":
        if parts.netloc or parts.query or not _DEVICE.fullmatch(parts.path):
            raise refuse(field, "a device is a V4L2 camera, like device:///dev/video0")
    elif scheme == "file":
        _check_file(field, parts, media_dirs)
    else:
        _check_host(field, parts, scheme)
        _check_address(field, parts, scheme, policy or NEVER_ONLY)
    return uri


# The policy of a check without the station's own: refuses only what is never opened.
NEVER_ONLY = OutgoingPolicy(["any"])


def _check_address(field: str, parts: SplitResult, scheme: str, policy: OutgoingPolicy) -> None:
    """A host written as an address must be one `policy` allows; a name passes here (it is
    checked on what it resolves to when the station connects: `recorder.outgoing`). Nothing
    is resolved or opened, so the answer depends on the URI and the settings alone."""
    host = (parts.hostname or "").strip("[]")
    if scheme not in NETWORK_SCHEMES or not host or not is_ip_address(host):
        return
    listening = scheme in LISTENING
    if listening and ipaddress.ip_address(host).is_unspecified:
        return  # udp://0.0.0.0:5000: where the station listens, not where it connects
    reason = policy.refusal(host, listen=listening)
    if reason is not None:
        raise refuse(field, f"the address {host} is {reason}")


def uri_host(uri: str | None) -> str | None:
    """The host a network URI connects to (lower case, no brackets), else None: what the
    station's first policy takes over from the catalog (`legacy_hosts`)."""
    if not uri or "://" not in uri:
        return None
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in NETWORK_SCHEMES or not host:
        return None
    return host.lower().strip("[]")


def legacy_hosts(uris: Iterable[str | None]) -> list[str]:
    """The hosts of `uris` (the sources, sync targets and callback the station already had)
    that the default networks leave out, so that an upgrade keeps them working while
    `allowed_source_networks` was never set: see `Outgoing`. Addresses no policy allows
    (metadata, link-local) stay refused: they are not added."""
    default = OutgoingPolicy(DEFAULT_NETWORKS)
    found: list[str] = []
    for uri in uris:
        host = uri_host(uri)
        if host is None or host in found:
            continue
        if is_ip_address(host):
            if default.refusal(host) is None or NEVER_ONLY.refusal(host) is not None:
                continue
        else:
            try:
                OutgoingPolicy([host])
            except ValueError:
                continue
            if host == "localhost" or host.endswith(".localhost"):
                continue
        found.append(host)
    return found


class Outgoing:
    """The station's one outgoing-address policy, replaced when the settings change. Services
    hold this and call it for the policy of now (`outgoing()`), as they read `media_dirs`.

    The policy allows `allowed_source_networks`; while the operator never set that setting,
    also the hosts the station already connected to when it started (`legacy_hosts` of the
    stored sources, sync targets and callback URL), so an upgrade keeps them working."""

    def __init__(self, entries: Iterable[str] = DEFAULT_NETWORKS, *, explicit: bool = True,
                 legacy: Iterable[str] = ()):
        self.legacy = list(legacy)
        self.policy = OutgoingPolicy(DEFAULT_NETWORKS)
        self.update(entries, explicit=explicit)

    def update(self, entries: Iterable[str], *, explicit: bool) -> None:
        entries = list(entries)
        self.policy = OutgoingPolicy(entries if explicit else entries + self.legacy)

    def __call__(self) -> OutgoingPolicy:
        return self.policy


def _check_nested(field: str, parts: SplitResult) -> None:
    """No protocol prefix after the scheme, in the path, the query or the fragment, as written
    and percent-decoded (up to three times). The host is checked by `_check_host` (no colon
    but the port's); the user-info is left alone: FFmpeg never reads a protocol there, and a
    password may hold anything."""
    prefix = nested_protocol(f"{parts.path}?{parts.query}#{parts.fragment}")
    if prefix:
        raise refuse(field, f"the address holds the protocol prefix {prefix!r}, "
                            "which the station does not open")


def nested_protocol(text: str) -> str | None:
    """The first FFmpeg protocol prefix (`concat:`, `hls+file:` ...) in `text`, as written or
    percent-decoded up to three times; None when there is none."""
    seen = [text]
    for _ in range(3):
        decoded = unquote(seen[-1])
        if decoded == seen[-1]:
            break
        seen.append(decoded)
    for candidate in seen:
        found = _NESTED.search(candidate) or _COMBINED.search(candidate)
        if found:
            return found.group(0)
    return None


def _check_host(field: str, parts: SplitResult, scheme: str) -> None:
    """host[:port], a name or an address; the only colon allowed is the port's."""
    match = _HOST.fullmatch(parts.netloc.rpartition("@")[2])
    if match is None:
        raise refuse(field, "the address has an invalid host or port")
    port = match.group("port")
    if port is not None and not 1 <= int(port) <= 65535:
        raise refuse(field, "the port must be a number from 1 to 65535")
    if scheme in NEEDS_HOST and not match.group("name"):
        raise refuse(field, "the address has no host")


def _check_file(field: str, parts: SplitResult, media_dirs: Iterable[Path]) -> None:
    if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
        raise refuse(field, "a file address is file:///absolute/path, without host or query")
    path = file_path(parts.geturl())
    if not path.startswith("/"):
        raise refuse(field, "a file address needs an absolute path")
    folders = list(media_dirs)
    if media_path(path, folders) is None:
        raise refuse(field, "files are read only below the folders of the media_dirs setting"
                            + ("" if folders else " (none is set)"))


def media_path(path: str, media_dirs: Iterable[Path]) -> str | None:
    """`path` with symlinks and `..` resolved when that lies below one of `media_dirs` (also
    resolved), else None. Whether the file exists plays no part."""
    real = os.path.realpath(path)
    for folder in media_dirs:
        base = os.path.realpath(folder)
        if real != base and real.startswith(base.rstrip("/") + "/"):
            return real
    return None


# --- the address of another station of the site (app.site) -------------------------------

def station_url(url: str | None) -> str:
    """`url` (from the catalog, where anyone who can write it writes) as `scheme://host:port`;
    ValueError naming what is wrong with it. Only http/https, a host and a port: no user-info
    (credentials), path, query or fragment, and never an unspecified address (0.0.0.0, ::),
    which would send the request to the asking station's own machine."""
    if not url:
        raise ValueError("no address")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError("not a URL with a usable port") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError("not http:// or https://")
    if "@" in parts.netloc:
        raise ValueError("it carries a user name or password")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError("it has more than a scheme, a host and a port")
    host = parts.hostname or ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        if not host or len(host) > 253 or not all(
                label and len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
                for label in labels):
            raise ValueError("its host is neither a name nor an address") from None
    else:
        if address.is_unspecified:
            raise ValueError("its host is an unspecified address (0.0.0.0, ::)")
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}" + (f":{port}" if port else "")


def without_userinfo(url: str | None) -> str | None:
    """`url` as it may be shown: any `user:password@` taken out (a row an older station wrote)."""
    if not url or "@" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
