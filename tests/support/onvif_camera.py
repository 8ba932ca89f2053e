"""An ONVIF camera simulator: answers WS-Discovery probes and the ONVIF device and media
calls the station makes, behind HTTP digest authentication, with profiles that point at real
RTSP streams (the GStreamer test camera's main and sub streams).

    with OnvifCamera(profiles=[Profile("main", 640, 360, main_url),
                               Profile("sub", 320, 240, sub_url)],
                     user="admin", password="s3cret") as cam:
        Discovery(probe_to=cam.probe_address).probe(1.0)   # → [FoundCamera(name=cam.name ...)]
        Discovery().read_profiles(cam.address, "admin", "s3cret")

Multicast to 239.255.255.250 does not reach a listener on loopback without routes a test
cannot set up, so the simulator listens for probes on a loopback UDP port of its own and a
test sends its probe there (`Discovery(probe_to=...)`): the same datagrams, unicast.
`auth="wsse"` wants a WS-Security UsernameToken in each SOAP call instead of HTTP digest.
It runs in the test process, on two threads; `calls` lists the SOAP operations it served
and `auth_failures` counts refused logins, so tests see what the station asked.

`ptz=True` adds a PTZ service (`tests/support/onvif_ptz.py`, #27): its address in
GetCapabilities and GetServices, a PTZConfiguration in every profile, and a simulated head
(`cam.ptz`) that records every PTZ call with its monotonic arrival time and moves after
ContinuousMove until Stop or the move's Timeout; `relative=False` makes a ContinuousMove-only
camera, `cam.ptz.drop_stop = True` one that loses every Stop.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import socket
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

from tests.support.onvif_ptz import PTZ_PATH, SimulatedHead

REALM = "onvif-simulator"
SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="' + SOAP + '" '
            'xmlns:a="' + WSA + '" xmlns:d="' + WSD + '" '
            'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" '
            'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
            'xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" '
            'xmlns:tt="http://www.onvif.org/ver10/schema">{header}<s:Body>{body}</s:Body></s:Envelope>')
NOT_AUTHORIZED = ('<s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>ter:NotAuthorized'
                  '</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en">Sender not '
                  'Authorized</s:Text></s:Reason></s:Fault>')


@dataclass
class Profile:
    token: str
    width: int
    height: int
    stream_uri: str
    encoding: str = "H264"


class OnvifCamera:
    def __init__(self, profiles: list[Profile], *, user: str = "admin", password: str = "admin",
                 name: str = "Simulated Camera", model: str = "SIM-2000",
                 snapshot: bool = True, media_xaddr_host: str = "10.99.99.99", auth: str = "digest",
                 ptz: bool = False, relative: bool = True):
        self.profiles, self.user, self.password = profiles, user, password
        self.ptz = SimulatedHead(relative=relative) if ptz else None
        # "digest": HTTP digest on every request; "wsse": no HTTP login, but every SOAP call
        # needs a WS-Security UsernameToken (a NotAuthorized fault without), as many cameras do
        self.auth = auth
        self.name, self.model, self.snapshot = name, model, snapshot
        # The media service address the device announces: a host the station must not use
        # (it keeps the device's own address and takes the path only).
        self.media_xaddr_host = media_xaddr_host
        self.endpoint = f"urn:uuid:{uuid.uuid4()}"
        self.calls: list[str] = []
        self.auth_failures = 0
        self.jpeg = _jpeg()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self._udp.settimeout(0.1)  # closing a socket does not wake a thread blocked on it
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- addresses -----------------------------------------------------------------------
    @property
    def address(self) -> str:
        return f"127.0.0.1:{self._http.server_address[1]}"

    @property
    def probe_address(self) -> tuple[str, int]:
        return self._udp.getsockname()

    # --- life ------------------------------------------------------------------------------
    def start(self) -> "OnvifCamera":
        for target in (self._http.serve_forever, self._answer_probes):
            thread = threading.Thread(target=target, daemon=True, name="onvif-sim")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._http.shutdown()
        self._http.server_close()
        for thread in self._threads:
            thread.join(5)
        self._udp.close()

    def __enter__(self) -> "OnvifCamera":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- WS-Discovery ----------------------------------------------------------------------
    def _answer_probes(self) -> None:
        while not self._stopping.is_set():
            try:
                data, sender = self._udp.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            root = ET.fromstring(data)
            if root.find(f".//{{{WSD}}}Probe") is None:
                continue
            message_id = root.findtext(f".//{{{WSA}}}MessageID")
            name = self.name.replace(" ", "_")
            header = (f"<s:Header><a:MessageID>urn:uuid:{uuid.uuid4()}</a:MessageID>"
                      f"<a:RelatesTo>{message_id}</a:RelatesTo>"
                      "<a:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches"
                      "</a:Action></s:Header>")
            body = (f"<d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>{self.endpoint}"
                    "</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types>"
                    f"<d:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/name/{name} "
                    f"onvif://www.onvif.org/hardware/{self.model}</d:Scopes>"
                    f"<d:XAddrs>http://{self.address}/onvif/device_service</d:XAddrs>"
                    "<d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch></d:ProbeMatches>")
            try:
                self._udp.sendto(ENVELOPE.format(header=header, body=body).encode(), sender)
            except OSError:
                return

    # --- ONVIF over HTTP ---------------------------------------------------------------------
    def _handler(self):
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                if camera.auth == "digest" and not camera._authorized(self):
                    return
                if self.path != "/snapshot.jpg" or not camera.snapshot:
                    self.send_error(404)
                    return
                self._send(200, camera.jpeg, "image/jpeg")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                if camera.auth == "digest" and not camera._authorized(self):
                    return
                if camera.auth == "wsse" and not camera._token_valid(data):
                    camera.auth_failures += 1
                    self._send(400, ENVELOPE.format(header="", body=NOT_AUTHORIZED).encode(),
                               "application/soap+xml; charset=utf-8")
                    return
                status, body = camera._soap(self.path, data)
                self._send(status, ENVELOPE.format(header="", body=body).encode(),
                           "application/soap+xml; charset=utf-8")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def _authorized(self, request: BaseHTTPRequestHandler) -> bool:
        """HTTP digest (MD5, qop=auth); a 401 with a fresh challenge otherwise."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Digest "):
            fields = {k: a or b for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header)}
            ha1 = _md5(f"{fields.get('username')}:{REALM}:{self.password}")
            ha2 = _md5(f"{request.command}:{fields.get('uri')}")
            expected = _md5(f"{ha1}:{fields.get('nonce')}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}")
            if fields.get("username") == self.user and fields.get("response") == expected \
                    and fields.get("uri") == request.path:
                return True
            self.auth_failures += 1
        body = b"unauthorized"
        request.send_response(401)
        request.send_header("WWW-Authenticate",
                            f'Digest realm="{REALM}", qop="auth", nonce="{os.urandom(8).hex()}", algorithm=MD5')
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
        return False

    def _token_valid(self, data: bytes) -> bool:
        """A UsernameToken whose PasswordDigest is Base64(SHA-1(nonce + created + password))."""
        root = ET.fromstring(data)
        token = next((e for e in root.iter() if e.tag.endswith("}UsernameToken")), None)
        if token is None:
            return False
        value = {e.tag.rpartition("}")[2]: (e.text or "") for e in token}
        digest = base64.b64encode(hashlib.sha1(base64.b64decode(value.get("Nonce", ""))
                                               + value.get("Created", "").encode()
                                               + self.password.encode()).digest()).decode()
        return value.get("Username") == self.user and value.get("Password") == digest

    def _soap(self, path: str, data: bytes) -> tuple[int, str]:
        body = ET.fromstring(data).find(f"{{{SOAP}}}Body")
        operation = body[0].tag.rpartition("}")[2] if body is not None and len(body) else ""
        self.calls.append(operation)
        token = next((e.text for e in body.iter() if e.tag.endswith("ProfileToken")), None) if body is not None else None
        profile = next((p for p in self.profiles if p.token == token), None)
        if path == "/onvif/device_service" and operation == "GetDeviceInformation":
            return 200, ("<tds:GetDeviceInformationResponse><tds:Manufacturer>Simulated</tds:Manufacturer>"
                         f"<tds:Model>{self.model}</tds:Model><tds:FirmwareVersion>1.0</tds:FirmwareVersion>"
                         "<tds:SerialNumber>0001</tds:SerialNumber><tds:HardwareId>1</tds:HardwareId>"
                         "</tds:GetDeviceInformationResponse>")
        if path == "/onvif/device_service" and operation == "GetCapabilities":
            ptz = (f"<tt:PTZ><tt:XAddr>http://{self.media_xaddr_host}{PTZ_PATH}</tt:XAddr></tt:PTZ>"
                   if self.ptz else "")
            return 200, ("<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>"
                         f"http://{self.media_xaddr_host}/onvif/media_service</tt:XAddr></tt:Media>"
                         f"{ptz}</tds:Capabilities></tds:GetCapabilitiesResponse>")
        if path == "/onvif/device_service" and operation == "GetServices":
            services = [("http://www.onvif.org/ver10/media/wsdl", "/onvif/media_service")]
            if self.ptz:
                services.append(("http://www.onvif.org/ver20/ptz/wsdl", PTZ_PATH))
            return 200, "<tds:GetServicesResponse>" + "".join(
                f"<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>"
                f"http://{self.media_xaddr_host}{where}</tds:XAddr></tds:Service>"
                for ns, where in services) + "</tds:GetServicesResponse>"
        if path == PTZ_PATH and self.ptz is not None:
            return self.ptz.answer(operation, body)
        if path == "/onvif/media_service" and operation == "GetProfiles":
            return 200, "<trt:GetProfilesResponse>" + "".join(
                f'<trt:Profiles token="{p.token}" fixed="true"><tt:Name>{p.token}</tt:Name>'
                f"<tt:VideoEncoderConfiguration token=\"enc-{p.token}\"><tt:Name>enc</tt:Name>"
                f"<tt:Encoding>{p.encoding}</tt:Encoding><tt:Resolution><tt:Width>{p.width}</tt:Width>"
                f"<tt:Height>{p.height}</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration>"
                f"{self.ptz.configuration() if self.ptz else ''}"
                "</trt:Profiles>" for p in self.profiles) + "</trt:GetProfilesResponse>"
        if path == "/onvif/media_service" and operation == "GetStreamUri" and profile:
            return 200, (f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{_xml(profile.stream_uri)}</tt:Uri>"
                         "</trt:MediaUri></trt:GetStreamUriResponse>")
        if path == "/onvif/media_service" and operation == "GetSnapshotUri" and profile and self.snapshot:
            return 200, (f"<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>http://{self.address}"
                         "/snapshot.jpg</tt:Uri></trt:MediaUri></trt:GetSnapshotUriResponse>")
        return 400, ("<s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason>"
                     f'<s:Text xml:lang="en">{operation or "nothing"} is not supported here</s:Text>'
                     "</s:Reason></s:Fault>")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;")


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 40, 40)).save(out, "JPEG")
    return out.getvalue()
