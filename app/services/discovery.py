"""Find ONVIF cameras on the local network and read what they stream, so an operator adds a
camera by picking it instead of typing its RTSP address.

Two steps, both plain SOAP over the standard library (why not `wsdiscovery` and
`onvif-zeep-async`: docs, "Find cameras"):

- `probe`: a WS-Discovery Probe for `NetworkVideoTransmitter`s, sent over UDP to the
  WS-Discovery multicast group (or to `probe_to`, a unicast target for tests and routed
  networks); every ProbeMatch heard within the wait (3 s at most) becomes a `FoundCamera`
  (name and model from its ONVIF scopes, the addresses of its device service).
- `read_profiles`: with a login, the device's information and its media profiles over ONVIF
  (`GetDeviceInformation`, `GetCapabilities`, `GetProfiles`, `GetStreamUri`,
  `GetSnapshotUri`), and the source they suggest: the highest-resolution profile as the
  main stream (`uri_rtsp`), the lowest as the preview stream (`uri_preview`), the login put
  into both URIs as a saved source expects. The SOAP itself, to one checked address, is
  `app.services.onvif_client`.

A camera is a stranger on the network, so everything it says is hostile input: answers are
size-capped and parsed by expat (no external entities, entity expansion bounded), every URI
it offers passes `app.uri_policy.check_uri` or is dropped, and the station connects only to
addresses the station's one outgoing policy allows (`recorder.outgoing`, the
`allowed_source_networks` setting: loopback and private networks by default, never
link-local or cloud metadata), reached by the IP checked (no second DNS answer), without
following redirects.

Nor is discovery a port scanner: a closed port refuses at once where a silent one keeps the
station waiting `HTTP_TIMEOUT_S`, so every "no ONVIF camera answered" is given only once
`failure_delay_s` (that same timeout) has passed since the request began: closed, silent,
filtered and "something else answered" look alike, in words and in time. The media service's address the camera names is used for its path
only, on the address already checked. The password goes only into the digest exchange and
the URIs handed back; answers of the API mask it (`app.schemas.mask_uri`).
"""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Callable
import xml.etree.ElementTree as ET
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import BaseModel, Field

from app.errors import InvalidInput, Unavailable
from app.services.onvif_client import (
    HTTP_TIMEOUT_S,
    MAX_ANSWER_BYTES,
    NS,
    CameraError,
    CameraLoginRefused,
    OnvifClient,
    no_onvif_at,
    parse_xml,
    text_of,
    xml_text,
)
from app.uri_policy import check_uri
from recorder.outgoing import OutgoingPolicy, RefusedAddress

WS_DISCOVERY = ("239.255.255.250", 3702)
MAX_WAIT_S = 3.0
MAX_SNAPSHOT_BYTES = 8 << 20
STREAM_SCHEMES = ("rtsp", "rtsps")

PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="{s}" xmlns:a="{a}" xmlns:d="{d}" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<s:Header><a:MessageID>{message_id}</a:MessageID>
<a:To s:mustUnderstand="true">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>
<a:Action s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action></s:Header>
<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"""


class FoundCamera(BaseModel):
    """A camera that answered the probe."""
    name: str = Field(description="The camera's name from its ONVIF scopes (`onvif://www.onvif.org/name/…`); empty when it gives none")
    model: str = Field(description="Its hardware model from the scopes (`…/hardware/…`)")
    address: str = Field(description="host[:port] of its ONVIF device service: what `/discovery/profiles` takes")
    xaddrs: list[str] = Field(description="The device service URLs it announced (those the URI policy accepts)")
    endpoint: str = Field(description="Its WS-Discovery endpoint reference (`urn:uuid:…`), stable across probes")


class CameraProfile(BaseModel):
    """One media profile of a camera."""
    token: str
    name: str
    width: int | None = None
    height: int | None = None
    encoding: str | None = Field(None, description="H264, H265, JPEG ... as the camera names it")
    stream_uri: str | None = Field(None, description="RTSP URI with the login in it (masked in API answers); null when the camera offers none the URI policy accepts")
    snapshot_uri: str | None = Field(None, description="JPEG snapshot URL (http/https), without the login; null when none")


class CameraPtz(BaseModel):
    """What a camera's PTZ service offers for the profile a source would use (#27): what
    `source.onvif` keeps, without the login (docs/ptz.md)."""
    service: str = Field(description="The path of its PTZ service, on the camera's own address")
    profile: str = Field(description="The media profile token PTZ commands name")
    pan_tilt: bool = Field(description="It pans and tilts (ContinuousMove with a PanTilt velocity)")
    zoom: bool = Field(description="It zooms (ContinuousMove with a Zoom velocity)")
    relative: bool = Field(description="It offers RelativeMove (click-to-centre)")
    presets: bool = Field(description="It keeps presets")
    home: bool = Field(description="It has a home position")


class CameraProfiles(BaseModel):
    """What a camera streams, and the source it suggests."""
    address: str
    manufacturer: str = ""
    model: str = ""
    name: str = Field(description="A name for the source: the camera's model and address")
    profiles: list[CameraProfile]
    uri_rtsp: str | None = Field(description="Suggested main stream: the highest-resolution profile (login in it, masked in API answers)")
    uri_preview: str | None = Field(description="Suggested preview stream: the lowest-resolution profile; null when there is only one")
    snapshot_uri: str | None = Field(description="The main profile's snapshot URL, for a picture before the first frame")
    ptz: CameraPtz | None = Field(None, description="Its pan/tilt/zoom control (ONVIF PTZ), null when it has none")


class Discovery:
    """Stateless but for where probes go: the service the GUI and the API share."""

    def __init__(self, probe_to: tuple[str, int] = WS_DISCOVERY,
                 outgoing: Callable[[], OutgoingPolicy] | None = None):
        self.probe_to = probe_to
        # The outgoing-address policy of now (the station sets its own); else the default.
        self.outgoing: Callable[[], OutgoingPolicy] = outgoing or OutgoingPolicy
        # How long any failure to reach a camera takes to be told (see the module docstring).
        self.failure_delay_s = HTTP_TIMEOUT_S

    def _uniform(self, started: float) -> None:
        """Wait out `failure_delay_s` since `started`: the time of a failure tells nothing."""
        left = started + self.failure_delay_s - time.monotonic()
        if left > 0:
            time.sleep(left)

    # --- WS-Discovery -----------------------------------------------------------------------
    def probe(self, wait_s: float = 2.0) -> list[FoundCamera]:
        """Every ONVIF camera answering a Probe within `wait_s` (at most 3 s), by name;
        `Unavailable` when the probe cannot be sent at all."""
        wait_s = min(max(wait_s, 0.2), MAX_WAIT_S)
        message_id = f"uuid:{uuid.uuid4()}"
        datagram = PROBE.format(message_id=message_id, **NS).encode()
        try:  # the multicast group, or a unicast target the station was given
            self.outgoing().check_ip(self.probe_to[0], listen=True)
        except RefusedAddress as exc:
            raise Unavailable(f"cannot send a discovery probe: {exc}") from None
        family = socket.AF_INET6 if ":" in self.probe_to[0] else socket.AF_INET
        found: dict[str, FoundCamera] = {}
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
            try:
                for _ in range(2):  # UDP may drop one; WS-Discovery repeats the Probe
                    sock.sendto(datagram, self.probe_to)
            except OSError as exc:  # no network (no route to the multicast group)
                raise Unavailable(f"cannot send a discovery probe: {exc.strerror or exc}") from None
            deadline = time.monotonic() + wait_s
            while (left := deadline - time.monotonic()) > 0:
                sock.settimeout(left)
                try:
                    answer, _ = sock.recvfrom(65535)
                except (socket.timeout, ConnectionRefusedError):
                    continue
                for camera in parse_probe_matches(answer, message_id):
                    found.setdefault(camera.endpoint, camera)
        return sorted(found.values(), key=lambda c: (c.name.lower(), c.address))

    # --- ONVIF media ------------------------------------------------------------------------
    def read_profiles(self, address: str, user: str, password: str) -> CameraProfiles:
        """Log in to the camera at `address` (host[:port] or its device service URL) and
        read its profiles; `CameraLoginRefused` when the login is wrong, `CameraError` when
        it cannot be reached or does not speak ONVIF (after `failure_delay_s`, whatever the
        reason), `InvalidInput` for an address the station may not connect to."""
        started = time.monotonic()
        device = OnvifClient(address, user, password, policy=self.outgoing())
        try:
            return self._read_profiles(device)
        except CameraError:
            self._uniform(started)
            raise

    def _read_profiles(self, device: OnvifClient) -> CameraProfiles:
        info = device.call(device.device_path, "<tds:GetDeviceInformation/>")
        manufacturer = text_of(info, ".//tds:Manufacturer")
        model = text_of(info, ".//tds:Model")
        capabilities = device.call(device.device_path, "<tds:GetCapabilities><tds:Category>All"
                                                       "</tds:Category></tds:GetCapabilities>")
        media_xaddr = text_of(capabilities, ".//tt:Media/tt:XAddr")
        ptz_xaddr = text_of(capabilities, ".//tt:PTZ/tt:XAddr")
        if not media_xaddr:
            raise CameraError(f"the camera at {device.shown} offers no ONVIF media service")
        media_path = urlsplit(media_xaddr).path or "/"
        answer = device.call(media_path, "<trt:GetProfiles/>")
        profiles = []
        with_ptz: dict[str, ET.Element] = {}  # profile token -> its PTZConfiguration
        for element in answer.iterfind(".//trt:Profiles", NS):
            token = element.get("token") or ""
            if not token or len(token) > 64 or len(profiles) >= 32:  # ONVIF tokens: 64 chars
                continue
            profiles.append(self._profile(device, media_path, element, token))
            configuration = element.find("tt:PTZConfiguration", NS)
            if configuration is not None:
                with_ptz[token] = configuration
        if not profiles:
            raise CameraError(f"the camera at {device.shown} has no media profile")
        found = suggest(device.shown, manufacturer, model, profiles)
        if ptz_xaddr and with_ptz:
            main = next((p.token for p in profiles if p.stream_uri and p.stream_uri == found.uri_rtsp
                         and p.token in with_ptz), next(iter(with_ptz)))
            found.ptz = read_ptz(device, urlsplit(ptz_xaddr).path or "/", main, with_ptz[main])
        return found

    def onvif_control(self, address: str, user: str, password: str) -> dict | None:
        """What `source.onvif` keeps of the camera at `address` (docs/ptz.md): its device
        service, its PTZ service path, profile and abilities, and the login; None when it
        has no PTZ. Errors as `read_profiles`."""
        started = time.monotonic()
        device = OnvifClient(address, user, password, policy=self.outgoing())
        try:
            ptz = self._read_profiles(device).ptz
        except CameraError:
            self._uniform(started)
            raise
        return self.control_from(address, ptz, user, password)

    def control_from(self, address: str, ptz: CameraPtz | None, user: str,
                     password: str) -> dict | None:
        """What `source.onvif` keeps (docs/ptz.md) from a reading already made: `ptz` as
        `read_profiles(address, user, password)` gave it. No camera is asked again (Find
        cameras keeps it when it adds the camera); the address is checked as for a reading."""
        if ptz is None:
            return None
        device = OnvifClient(address, user, password, policy=self.outgoing())
        return {"device": f"{device.scheme}://{device.shown}{device.device_path}",
                **ptz.model_dump(), "username": user, "password": password}

    @staticmethod
    def _profile(device: "OnvifClient", media_path: str, element: ET.Element, token: str) -> CameraProfile:
        encoder = element.find("tt:VideoEncoderConfiguration", NS)
        width = height = None
        if encoder is not None:
            width, height = int_of(encoder, "tt:Resolution/tt:Width"), int_of(encoder, "tt:Resolution/tt:Height")
        token_xml = xml_text(token)
        try:
            stream = device.call(media_path, (
                "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport>"
                "<tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"
                f"<trt:ProfileToken>{token_xml}</trt:ProfileToken></trt:GetStreamUri>"))
            stream_uri = offered(text_of(stream, ".//trt:MediaUri/tt:Uri"), STREAM_SCHEMES)
        except CameraError:  # a profile without video (audio, metadata only): listed, not offered
            stream_uri = None
        try:
            snapshot = device.call(media_path, f"<trt:GetSnapshotUri><trt:ProfileToken>{token_xml}"
                                               "</trt:ProfileToken></trt:GetSnapshotUri>")
            snapshot_uri = offered(text_of(snapshot, ".//trt:MediaUri/tt:Uri"), ("http", "https"))
        except CameraError:  # optional in ONVIF: many encoders have no snapshot
            snapshot_uri = None
        return CameraProfile(
            token=token, name=text_of(element, "tt:Name")[:200] or token,
            width=width, height=height,
            encoding=text_of(encoder, "tt:Encoding")[:20] or None if encoder is not None else None,
            stream_uri=with_login(stream_uri, device.user, device.password) if stream_uri else None,
            snapshot_uri=snapshot_uri)

    def snapshot(self, uri: str, user: str, password: str) -> bytes:
        """The JPEG at a snapshot URI a camera offered (same address rules as the camera)."""
        started = time.monotonic()
        policy = self.outgoing()
        check_uri(uri, field="snapshot_uri", schemes=("http", "https"), policy=policy)
        parts = urlsplit(uri)
        client = OnvifClient(parts.netloc.rpartition("@")[2], user, password, scheme=parts.scheme,
                             policy=policy)
        path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        try:
            status, _, body = client.request("GET", path, b"", {}, limit=MAX_SNAPSHOT_BYTES)
            if status != 200 and status != 401:
                raise no_onvif_at(client.shown, f"snapshot: HTTP {status}")
        except CameraError:
            self._uniform(started)
            raise
        if status == 401:
            raise CameraLoginRefused(client.shown)
        return body


def read_ptz(device: OnvifClient, path: str, profile: str, configuration: ET.Element) -> CameraPtz:
    """The abilities of the PTZ node `configuration` names (GetNodes); a camera that does not
    answer GetNodes is taken at its configuration's word: continuous moves only."""
    node_token = text_of(configuration, "tt:NodeToken")
    pan_tilt = configuration.find("tt:DefaultContinuousPanTiltVelocitySpace", NS) is not None
    zoom = configuration.find("tt:DefaultContinuousZoomVelocitySpace", NS) is not None
    try:
        nodes = device.call(path, "<tptz:GetNodes/>")
    except CameraError:
        return CameraPtz(service=path, profile=profile, pan_tilt=pan_tilt, zoom=zoom,
                         relative=False, presets=True, home=True)
    all_nodes = nodes.findall(".//tptz:PTZNode", NS)
    node = next((n for n in all_nodes if n.get("token") == node_token), all_nodes[0] if all_nodes else None)
    if node is None:
        return CameraPtz(service=path, profile=profile, pan_tilt=pan_tilt, zoom=zoom,
                         relative=False, presets=True, home=True)
    spaces = node.find("tt:SupportedPTZSpaces", NS)

    def has(space: str) -> bool:
        return spaces is not None and spaces.find(f"tt:{space}", NS) is not None

    return CameraPtz(
        service=path, profile=profile,
        pan_tilt=has("ContinuousPanTiltVelocitySpace") or pan_tilt,
        zoom=has("ContinuousZoomVelocitySpace") or zoom,
        relative=has("RelativePanTiltTranslationSpace"),
        presets=(int_of(node, "tt:MaximumNumberOfPresets") or 0) > 0,
        home=text_of(node, "tt:HomeSupported").lower() in ("true", "1"))


def suggest(address: str, manufacturer: str, model: str, profiles: list[CameraProfile]) -> CameraProfiles:
    """Main stream: the largest picture; preview: the smallest, when it is another profile."""
    streams = [p for p in profiles if p.stream_uri]
    by_size = sorted(streams, key=lambda p: (p.width or 0) * (p.height or 0))
    main = by_size[-1] if by_size else None
    preview = by_size[0] if len(by_size) > 1 and by_size[0].stream_uri != main.stream_uri else None
    return CameraProfiles(
        address=address, manufacturer=manufacturer[:100], model=model[:100],
        name=f"{model or manufacturer or 'Camera'} {address}"[:100],
        profiles=profiles, uri_rtsp=main.stream_uri if main else None,
        uri_preview=preview.stream_uri if preview else None,
        snapshot_uri=(main.snapshot_uri if main else None) or next(
            (p.snapshot_uri for p in profiles if p.snapshot_uri), None))


def parse_probe_matches(data: bytes, message_id: str) -> list[FoundCamera]:
    """The cameras of one ProbeMatches answering our Probe (anything else: nothing)."""
    root = parse_xml(data[:MAX_ANSWER_BYTES])
    if root is None or text_of(root, "s:Header/a:RelatesTo") != message_id:
        return []
    cameras = []
    for match in root.iterfind(".//d:ProbeMatch", NS):
        xaddrs = [x for x in text_of(match, "d:XAddrs").split()[:8] if offered(x, ("http", "https"))]
        endpoint = text_of(match, "a:EndpointReference/a:Address")[:200]
        if not xaddrs or not endpoint:
            continue
        scopes = text_of(match, "d:Scopes").split()
        cameras.append(FoundCamera(
            name=scope(scopes, "name"), model=scope(scopes, "hardware"),
            address=urlsplit(xaddrs[0]).netloc.rpartition("@")[2], xaddrs=xaddrs, endpoint=endpoint))
    return cameras


def scope(scopes: list[str], key: str) -> str:
    prefix = f"onvif://www.onvif.org/{key}/"
    for item in scopes:
        if item.lower().startswith(prefix):
            value = unquote(item[len(prefix):]).replace("_", " ")
            return re.sub(r"[\x00-\x1f\x7f]", "", value)[:100]
    return ""


def offered(uri: str, schemes: tuple[str, ...]) -> str | None:
    """`uri` when the URI policy accepts it for these schemes, else None (dropped)."""
    if not uri:
        return None
    try:
        return check_uri(uri, field="uri", schemes=schemes)
    except InvalidInput:
        return None


def with_login(uri: str, user: str, password: str) -> str:
    """`rtsp://user:pass@host/...`, as a saved source holds it (the camera's own login in
    the URI, if any, replaced)."""
    if not user:
        return uri
    parts = urlsplit(uri)
    host = parts.netloc.rpartition("@")[2]
    login = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


def int_of(element: ET.Element, path: str) -> int | None:
    text = text_of(element, path)
    return int(text) if text.isdigit() and len(text) < 6 else None
