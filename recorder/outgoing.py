"""The one outgoing-address policy: every connection the station opens on the network (camera
sources, preview streams, snapshot cameras, syncs, callbacks, other stations, discovery) goes to
an address this policy allows, checked on the address actually connected to.

Why here, in the recorder: the recorder opens most connections (its RTSP client, FFmpeg's
inputs), and it is the leaf every other layer may import; the core builds one `OutgoingPolicy`
from the operator's `allowed_source_networks` and hands it to everything that connects.

The rules:
- some addresses are never opened, whatever the operator allows: link-local ranges (where
  cloud metadata services live: 169.254.169.254, fd00:ec2::254), the known metadata and
  wire-server addresses of the clouds, "this network" (0.0.0.0/8), unspecified, broadcast
  and reserved addresses; multicast only for what listens (`udp://`);
- everything else must lie in one of the allowed networks (default: loopback and the private
  ranges), or be a host the operator named in `allowed_source_networks` itself;
- a name is resolved here, each resolved address checked, and the connection made to the very
  address that was checked, so a name that resolves to an allowed address for the check and
  to another for the connection (DNS rebinding) cannot slip through: FFmpeg is handed the
  checked address (`pin_url`), Python sockets connect to it (`create_connection`);
- HTTP through `urlopen` never follows a redirect (a 3xx is an answer like any refusal), so
  credentials never travel to an address nobody checked; FFmpeg's HTTP gets `max_redirects=0`.

A refusal is a `RefusedAddress` (an `OSError`, so callers that handle a failed connection
handle it too); its text names the address's kind, never the page or service behind it.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The operator's default: loopback and the private ranges (RFC 1918, IPv6 unique local).
DEFAULT_NETWORKS = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                    "fc00::/7")
# Never opened, whatever the operator allows.
NEVER = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8",         # "this network"; 0.0.0.0 reaches the station itself on Linux
    "169.254.0.0/16",    # IPv4 link-local: cloud metadata (169.254.169.254, .170.2 ...)
    "fe80::/10",         # IPv6 link-local
    "fd00:ec2::/32",     # AWS metadata over IPv6 (fd00:ec2::254)
    "100.100.100.200/32",  # Alibaba Cloud metadata
    "168.63.129.16/32",  # Azure wire server
    "240.0.0.0/4",       # reserved, and 255.255.255.255
    "::/128",            # unspecified
    "::ffff:0:0/96",     # IPv4-mapped: checked as the IPv4 address it maps instead
))
MULTICAST = (ipaddress.ip_network("224.0.0.0/4"), ipaddress.ip_network("ff00::/8"))


class RefusedAddress(OSError):
    """The policy forbids this address; nothing was opened."""


def parse_networks(entries: Iterable[str]) -> tuple[tuple[Network, ...], frozenset[str]]:
    """Split `allowed_source_networks` entries into networks (`10.1.0.0/16`, `192.0.2.7`,
    `any`) and host names (`cam.example.org`); raises ValueError on an entry that is neither."""
    networks: list[Network] = []
    hosts: set[str] = set()
    for raw in entries:
        entry = str(raw).strip()
        if not entry:
            continue
        if entry.lower() == "any":
            networks += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = entry.lower().rstrip(".")
        labels = name.split(".")
        if not name or len(name) > 253 or not all(
                label and len(label) <= 63 and label.replace("-", "").replace("_", "").isalnum()
                for label in labels):
            raise ValueError(f"{entry!r} is neither a network (10.0.0.0/8), an address nor a host name")
        hosts.add(name)
    return tuple(networks), frozenset(hosts)


def is_ip_address(host: str) -> bool:
    """Whether `host` is an IP address written out (not a name to resolve)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _plain(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class OutgoingPolicy:
    """Which addresses the station may connect to. Immutable: a settings change builds a new
    one (`policy()` callables in the services read the current one each time)."""

    def __init__(self, entries: Iterable[str] = DEFAULT_NETWORKS):
        self.networks, self.hosts = parse_networks(entries)

    # --- addresses --------------------------------------------------------------------------
    def refusal(self, address: str | IPAddress, *, listen: bool = False,
                host: str | None = None) -> str | None:
        """Why `address` may not be opened (None: it may). `host`: the name it was resolved
        from, allowed by name when the operator listed it. `listen`: multicast groups are
        allowed for what joins them (udp inputs)."""
        try:
            ip = _plain(ipaddress.ip_address(str(address).strip("[]").split("%", 1)[0]))
        except ValueError:
            return "not an IP address"
        if any(ip in net for net in NEVER) or ip.is_link_local or ip.is_unspecified:
            return "a link-local, metadata or reserved address, which the station never opens"
        if any(ip in net for net in MULTICAST):
            return None if listen else "a multicast address"
        if host is not None and host.lower().rstrip(".") in self.hosts:
            return None
        if any(ip in net for net in self.networks):
            return None
        return "outside the networks of the allowed_source_networks setting"

    def check_ip(self, address: str | IPAddress, *, listen: bool = False,
                 host: str | None = None) -> None:
        reason = self.refusal(address, listen=listen, host=host)
        if reason is not None:
            raise RefusedAddress(f"the address {_shown(address)} is {reason}")

    def resolve(self, host: str, port: int | None = None, *, listen: bool = False) -> list[str]:
        """The addresses `host` resolves to that the policy allows (IP literals as they are);
        RefusedAddress when it resolves to a refused address, OSError when it does not
        resolve. Any refused address refuses the name: a name that answers both (a rebinding
        resolver) is not to be trusted."""
        name = host.strip("[]")
        try:
            infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve {host!r}: {exc.strerror}") from None
        addresses: list[str] = []
        for info in infos:
            address = str(info[4][0]).split("%", 1)[0]
            if address not in addresses:
                addresses.append(address)
        for address in addresses:
            reason = self.refusal(address, listen=listen, host=name)
            if reason is not None:
                raise RefusedAddress(f"{_shown(host)} resolves to an address that is {reason}")
        if not addresses:
            raise OSError(f"cannot resolve {host!r}")
        return addresses

    # --- connecting -------------------------------------------------------------------------
    def create_connection(self, address: tuple[str, int], timeout: float | None = None,
                          source_address: tuple[str, int] | None = None) -> socket.socket:
        """`socket.create_connection` to an address this policy checked just now."""
        host, port = address
        last: OSError | None = None
        for ip in self.resolve(host, port):
            try:
                return socket.create_connection((ip, port), timeout, source_address)
            except OSError as exc:
                last = exc
        raise last or OSError(f"cannot connect to {host!r}")

    def pin_url(self, url: str, *, listen: bool = False) -> tuple[str, str | None]:
        """`url` with its host replaced by the checked address FFmpeg is to connect to, and
        the original `host[:port]` for an HTTP `Host` header (None when the host was already
        an address or there is none)."""
        parts = urlsplit(url)
        host = parts.hostname
        if not host:
            return url, None
        address = self.resolve(host, parts.port, listen=listen)[0]
        if is_ip_address(host):
            return url, None
        shown = f"[{address}]" if ":" in address else address
        userinfo, _, _ = parts.netloc.rpartition("@")
        netloc = (userinfo + "@" if userinfo else "") + shown + (f":{parts.port}" if parts.port else "")
        original = host + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc)), original

    def urlopen(self, request: urllib.request.Request | str, timeout: float,
                context: ssl.SSLContext | None = None):
        """`urllib.request.urlopen` through this policy: the connection to a checked address,
        no redirect followed (a 3xx raises `HTTPError` like any other refusal), no proxy from
        the environment. A refused address raises `RefusedAddress` itself, not wrapped in
        urllib's `URLError`."""
        try:
            return self.opener(context).open(request, timeout=timeout)
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, RefusedAddress):
                raise exc.reason from None
            raise

    def opener(self, context: ssl.SSLContext | None = None) -> urllib.request.OpenerDirector:
        policy = self

        class _Http(http.client.HTTPConnection):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self._create_connection = policy.create_connection

        class _Https(http.client.HTTPSConnection):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self._create_connection = policy.create_connection

        class _HttpHandler(urllib.request.HTTPHandler):
            def http_open(self, req):
                return self.do_open(_Http, req)

        class _HttpsHandler(urllib.request.HTTPSHandler):
            def https_open(self, req):
                return self.do_open(_Https, req, context=self._context)

        opener = urllib.request.OpenerDirector()
        for handler in (_HttpHandler(), _HttpsHandler(context=context),
                        urllib.request.HTTPDefaultErrorHandler(),
                        urllib.request.HTTPErrorProcessor()):
            opener.add_handler(handler)
        return opener


def _shown(address: object) -> str:
    """An address or name as it may appear in a message: printable, short."""
    text = "".join(ch for ch in str(address) if ch.isprintable())[:80]
    return repr(text)
