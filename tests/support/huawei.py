"""Helpers for the Huawei dialect tests: the official SDK clients pointed at the station on
loopback, requests signed by the SDK's own signer (for what the SDK models cannot send),
and a callback receiver that can refuse its first deliveries."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests
from huaweicloudsdkcloudrtc.v2 import CloudRTCClient
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from huaweicloudsdklive.v1 import LiveClient

AK, SK, PROJECT, APP_ID = "HPUATESTAK0000000001", "test-secret-key-0123456789", "proj-1", "app-1"


def _config(ca: str | None = None) -> HttpConfig:
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    config.timeout = (5, 30)
    if ca:  # an https station whose certificate a test CA signed
        config.ssl_ca_cert = ca
    return config


def live_client(url: str, ak: str = AK, sk: str = SK, project: str = PROJECT,
                ca: str | None = None) -> LiveClient:
    """huaweicloudsdklive's client on the station: no region, just the endpoint (http on
    loopback is accepted as given; a bare host would get https). `ca`: the CA file that
    signed an https station's certificate."""
    return (LiveClient.new_builder().with_credentials(BasicCredentials(ak, sk, project))
            .with_endpoints([url.rstrip("/")]).with_http_config(_config(ca)).build())


def rtc_client(url: str, ak: str = AK, sk: str = SK, project: str = PROJECT,
               ca: str | None = None) -> CloudRTCClient:
    return (CloudRTCClient.new_builder().with_credentials(BasicCredentials(ak, sk, project))
            .with_endpoints([url.rstrip("/")]).with_http_config(_config(ca)).build())


def signed(method: str, url: str, body=None, *, ak: str = AK, sk: str = SK,
           sdk_date: str | None = None, raw: bytes | None = None,
           headers: dict | None = None, send: bytes | None = None) -> requests.Response:
    """Send a request signed by huaweicloudsdkcore's Signer (as the SDKs sign), with any
    body, including ones the SDK models would never produce. `sdk_date` fixes X-Sdk-Date;
    `send` replaces the body after signing (a tampered request)."""
    parts = urlsplit(url)
    query = [tuple(p.split("=", 1)) for p in parts.query.split("&") if p]
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    # a signed nonce makes each call a new request: the station refuses a state-changing
    # request it has seen (a replay), and X-Sdk-Date only has a 1 s resolution
    header_params = {"Content-Type": "application/json", "X-Test-Nonce": uuid.uuid4().hex,
                     **(headers or {})}
    if sdk_date:
        header_params["X-Sdk-Date"] = sdk_date
    request = SdkRequest(method=method, schema=parts.scheme, host=parts.netloc,
                         resource_path=parts.path, query_params=query,
                         header_params=header_params, body=data)
    Signer(BasicCredentials(ak, sk)).sign(request)
    return requests.request(method, f"{parts.scheme}://{parts.netloc}{request.uri}",
                            headers=request.header_params,
                            data=send if send is not None else request.body, timeout=30)


class CallbackReceiver:
    """An HTTP server on loopback that stores every JSON body POSTed to it; the first
    `fail_first` deliveries are answered 503 (so the station must retry)."""

    def __init__(self, fail_first: int = 0):
        self.received: list[dict] = []
        self.attempts = 0
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                receiver.attempts += 1
                if receiver.attempts <= receiver.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.received.append(json.loads(data))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"status": 1, "result": "success"}')

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/record-callback"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def events(self, record_id: str | None = None) -> list[str]:
        return [e["event_type"] for e in list(self.received)
                if record_id is None or e["job_id"] == record_id]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
