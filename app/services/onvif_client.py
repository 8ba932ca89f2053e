"""ONVIF's SOAP over HTTP to one camera, on the standard library: the address checked first
(the station's one outgoing policy, `recorder.outgoing`: `check_address`), HTTP digest or a WS-Security UsernameToken for the
login, answers size-capped and parsed by expat, one error text for whatever is not a camera.
The ONVIF operations themselves are in `app.services.discovery` and, for pan/tilt/zoom, in
`app.ptz` (handed a client by the station, since the rooms do not import each other).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import logging
import os
import re
import ssl
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from urllib.parse import urlsplit

from app.errors import InvalidInput, StationError
from app.uri_policy import check_uri
from recorder.outgoing import OutgoingPolicy, RefusedAddress

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 1 << 20  # a SOAP answer or a probe match; a snapshot may be 8 MB
HTTP_TIMEOUT_S = 5.0

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "d": "http://schemas.xmlsoap.org/ws/2005/04/discovery",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "tptz": "http://www.onvif.org/ver20/ptz/wsdl",
}
ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<s:Envelope xmlns:s="{s}" xmlns:tds="{tds}" xmlns:trt="{trt}" xmlns:tt="{tt}" xmlns:tptz="{tptz}">{header}<s:Body>{body}</s:Body></s:Envelope>"""
USERNAME_TOKEN = """<s:Header><wsse:Security s:mustUnderstand="1" xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><wsse:UsernameToken><wsse:Username>{user}</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">{digest}</wsse:Password><wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">{nonce}</wsse:Nonce><wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security></s:Header>"""



class CameraError(StationError):
    """The camera could not be reached or answered nonsense (the native API: 502)."""

    def __init__(self, message: str):
        super().__init__(message, kind="camera_error")


def no_onvif_at(shown: str, reason: str) -> CameraError:
    """One text whether the address is silent, refuses, or serves something else: the
    station is no port scanner of its network (docs/security.md, "Sources and URIs"). The
    operator's log keeps the reason."""
    log.info("ONVIF at %s: %s", shown, reason)
    return CameraError(f"no ONVIF camera answered at {shown} (unreachable, refused, or not "
                       "an ONVIF device)")


class CameraLoginRefused(InvalidInput):
    """The camera refused the user and password (the native API: 422 on `password`)."""

    def __init__(self, address: str):
        super().__init__(f"the camera at {address} refused this user and password",
                         field="password", kind="camera_login")




# --- the SOAP client ------------------------------------------------------------------------
class OnvifClient:
    """SOAP 1.2 over HTTP to one checked address: HTTP digest when the camera asks for it,
    a WS-Security UsernameToken when it answers NotAuthorized without asking."""

    def __init__(self, address: str, user: str, password: str, *, scheme: str = "http",
                 policy: OutgoingPolicy | None = None, timeout_s: float = HTTP_TIMEOUT_S,
                 tell_faults: bool = False):
        policy = policy or OutgoingPolicy()
        # PTZ asks 2 s (app.ptz): a Stop that cannot arrive soon is better known to fail.
        self.timeout_s = timeout_s
        # A camera a source names may say why it refused (app.ptz); discovery says one text
        # for every failure, so that it tells nothing about hosts it was pointed at.
        self.tell_faults = tell_faults
        target = address.strip()
        if "://" in target:
            check_uri(target, field="address", schemes=("http", "https"), policy=policy)
            parts = urlsplit(target)
            scheme, target = parts.scheme.lower(), parts.netloc.rpartition("@")[2]
            self.device_path = parts.path or "/onvif/device_service"
        else:
            self.device_path = "/onvif/device_service"
        self.scheme = scheme
        self.host, self.port = split_host_port(target, 443 if scheme == "https" else 80)
        self.ip = check_address(self.host, policy)
        self.shown = self.host if self.port == (443 if scheme == "https" else 80) else join_host_port(self.host, self.port)
        self.user, self.password = user, password
        self.use_token = False

    def call(self, path: str, body: str) -> ET.Element:
        """The SOAP Body of the answer; raises CameraLoginRefused or CameraError."""
        for attempt in range(2):
            header = self._username_token() if self.use_token else ""
            envelope = ENVELOPE.format(header=header, body=body, **NS).encode()
            status, _, answer = self.request("POST", path, envelope, {
                "Content-Type": "application/soap+xml; charset=utf-8"}, limit=MAX_ANSWER_BYTES)
            root = parse_xml(answer) if answer else None
            fault = root.find(".//s:Fault", NS) if root is not None else None
            if status == 401 or (fault is not None and "NotAuthorized" in ET.tostring(fault, "unicode")):
                if not self.use_token and self.user and status != 401:
                    self.use_token = True  # WS-Security instead of HTTP digest
                    continue
                raise CameraLoginRefused(self.shown)
            if fault is not None:
                reason = " ".join(" ".join(fault.itertext()).split())
                if self.tell_faults:  # a configured camera refused: say what it said
                    text = re.sub(r"[\x00-\x1f\x7f<>]", "", reason)[:200]
                    raise CameraError(f"the camera at {self.shown} refused: {text}")
                raise no_onvif_at(self.shown, f"SOAP fault: {reason[:200]}")
            if status != 200 or root is None:
                raise no_onvif_at(self.shown, f"HTTP {status}, {len(answer)} bytes")
            found = root.find("s:Body", NS)
            if found is None:
                raise no_onvif_at(self.shown, "an answer without a SOAP body")
            return found
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, body: bytes, headers: dict, *, limit: int) -> tuple[int, dict, bytes]:
        """One HTTP request, answering a digest challenge once; never follows a redirect."""
        status, reply, data = self._send(method, path, body, headers, limit)
        challenge = reply.get("www-authenticate", "")
        # Digest only: Basic would hand the password to whoever answers (a camera's HTTPS
        # certificate is self-signed, so TLS does not say who that is).
        if status == 401 and self.user and challenge.lower().startswith("digest"):
            auth = digest_header(challenge, method, path, self.user, self.password)
            status, reply, data = self._send(method, path, body, {**headers, "Authorization": auth}, limit)
        return status, reply, data

    def _send(self, method: str, path: str, body: bytes, headers: dict, limit: int) -> tuple[int, dict, bytes]:
        if self.scheme == "https":  # cameras' certificates are self-signed: encryption only
            connection = http.client.HTTPSConnection(str(self.ip), self.port, timeout=self.timeout_s,
                                                     context=ssl._create_unverified_context())
        else:
            connection = http.client.HTTPConnection(str(self.ip), self.port, timeout=self.timeout_s)
        try:
            connection.request(method, path, body=body or None,
                               headers={"Host": join_host_port(self.host, self.port), **headers})
            response = connection.getresponse()
            data = response.read(limit + 1)
            if len(data) > limit:
                raise no_onvif_at(self.shown, f"an answer over {limit >> 20} MB")
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        except (OSError, http.client.HTTPException) as exc:
            raise no_onvif_at(self.shown, getattr(exc, "strerror", None) or type(exc).__name__) from None
        finally:
            connection.close()

    def _username_token(self) -> str:
        nonce = os.urandom(16)
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + self.password.encode()).digest())
        return USERNAME_TOKEN.format(user=xml_text(self.user), digest=digest.decode(),
                                     nonce=base64.b64encode(nonce).decode(), created=created)


def digest_header(challenge: str, method: str, path: str, user: str, password: str) -> str:
    """RFC 7616 digest (MD5 or SHA-256, qop=auth or none) answering `challenge`."""
    params = {k.lower(): a or b for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', challenge)}
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    algorithm = params.get("algorithm", "MD5").upper()
    hash_name = "sha256" if algorithm.startswith("SHA-256") else "md5"

    def h(text: str) -> str:
        return hashlib.new(hash_name, text.encode()).hexdigest()

    ha1, ha2 = h(f"{user}:{realm}:{password}"), h(f"{method}:{path}")
    fields = {"username": user, "realm": realm, "nonce": nonce, "uri": path,
              "algorithm": algorithm}
    if "auth" in [q.strip() for q in params.get("qop", "").split(",")]:
        cnonce, nc = os.urandom(8).hex(), "00000001"
        fields.update(qop="auth", nc=nc, cnonce=cnonce,
                      response=h(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
    else:
        fields["response"] = h(f"{ha1}:{nonce}:{ha2}")
    if "opaque" in params:
        fields["opaque"] = params["opaque"]
    unquoted = ("algorithm", "qop", "nc")
    return "Digest " + ", ".join(f'{k}={v}' if k in unquoted else f'{k}="{v}"'
                                 for k, v in fields.items())


# --- what the station may connect to ----------------------------------------------------------
def check_address(host: str, policy: OutgoingPolicy) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address to connect to for `host`, when every address it resolves to is one the
    outgoing policy allows (the `allowed_source_networks` setting; never link-local or cloud
    metadata); else InvalidInput. The station connects to the address checked here, so a
    second DNS answer cannot move it."""
    try:
        return ipaddress.ip_address(policy.resolve(host)[0])
    except RefusedAddress as exc:
        raise InvalidInput(f"address: {exc}; the station looks for cameras only where "
                           "allowed_source_networks allows", field="address") from None
    except (OSError, UnicodeError, ValueError):
        raise InvalidInput(f"address: the name {host[:100]!r} does not resolve", field="address") from None


def split_host_port(target: str, default_port: int) -> tuple[str, int]:
    match = re.fullmatch(r"\[(?P<v6>[0-9A-Fa-f:.]+)\](?::(?P<p6>\d{1,5}))?|(?P<host>[A-Za-z0-9._-]+)(?::(?P<port>\d{1,5}))?", target)
    if match is None:
        raise InvalidInput("address: give host, host:port or the device service URL "
                           "(http://host/onvif/device_service)", field="address")
    host = match.group("v6") or match.group("host")
    port = int(match.group("p6") or match.group("port") or default_port)
    if not 1 <= port <= 65535:
        raise InvalidInput("address: the port must be a number from 1 to 65535", field="address")
    return host, port


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- reading what a camera says -------------------------------------------------------------
def parse_xml(data: bytes) -> ET.Element | None:
    """expat, which never fetches external entities and bounds entity expansion; a DOCTYPE
    has no place in SOAP and is refused outright."""
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        return None
    try:
        return ET.fromstring(data)
    except ET.ParseError:
        return None


def text_of(element: ET.Element | None, path: str) -> str:
    found = element.find(path, NS) if element is not None else None
    return (found.text or "").strip() if found is not None else ""




def xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
