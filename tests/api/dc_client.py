"""A Device Connect test client that sends what the reference JavaScript SDK
(dConnectSDK 2.x, `dconnectsdk-2.3.0.js`) sends, byte for byte where it matters:

- paths built by its URIBuilder: `/gotapi/<profile>/<attribute>` in lower case, the stored
  `accessToken` first in the query, then the other parameters;
- `X-GotAPI-Origin: <page origin>` on every request (sent lower-cased, as `execute` does);
- `Content-Type: application/x-www-form-urlencoded` unless the body is a FormData, which the
  browser sends as `multipart/form-data` with a `----WebKitFormBoundary…` boundary and parts
  without a Content-Type; DELETE with an empty body;
- `authorization()` = `GET authorization/grant` then `GET authorization/accessToken?clientId&
  scope=<comma-separated>&applicationName`;
- the event WebSocket `/gotapi/websocket`, opened by sending `{"accessToken":"…"}` and
  established on `{"result":0}`.
"""

from __future__ import annotations

import json
import secrets
import string
from urllib.parse import quote

ORIGIN = "http://localhost:8080"
INIT_SCOPES = ("servicediscovery", "serviceinformation", "system", "battery", "connection",
               "deviceorientation", "filedescriptor", "file", "mediaplayer",
               "mediastreamrecording", "notification", "phone", "proximity", "setting",
               "vibration", "light", "remotecontroller", "drivecontroller", "mhealth", "sphero",
               "dice", "temperature", "camera", "canvas", "health", "touch", "humandetection")


def form_data(fields: dict) -> tuple[bytes, str]:
    """A browser's FormData body and its Content-Type."""
    tail = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
    boundary = "----WebKitFormBoundary" + tail
    chunks = []
    for key, value in fields.items():
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                      f"{value}\r\n")
    chunks.append(f"--{boundary}--\r\n")
    return "".join(chunks).encode(), f"multipart/form-data; boundary={boundary}"


class SdkClient:
    def __init__(self, http, *, origin: str = ORIGIN, app_name: str = "dConnectSDK JavaScript",
                 scopes: tuple[str, ...] = INIT_SCOPES):
        self.http, self.origin, self.app_name, self.scopes = http, origin, app_name, scopes
        self.client_id: str | None = None
        self.token: str | None = None
        self.service_id: str | None = None

    def uri(self, profile: str, attribute: str | None = None, **params) -> str:
        path = "/gotapi/" + quote(profile, safe="") + (
            "/" + quote(attribute, safe="") if attribute else "")
        query = {"accessToken": self.token} if self.token else {}
        query.update({k: v for k, v in params.items() if v is not None})
        if query:
            path += "?" + "&".join(f"{quote(k, safe='')}={quote(str(v), safe='')}"
                                   for k, v in query.items())
        return path

    async def send(self, method: str, profile: str, attribute: str | None = None, *,
                   form: dict | None = None, raw_body: str | None = None, **params) -> dict:
        """One request; `form` goes as FormData, the rest in the query. Returns the JSON
        (the SDK only ever reads HTTP 200 bodies, so anything else fails the test)."""
        headers = {"x-gotapi-origin": self.origin}
        body: bytes | str | None = None
        if form is not None:
            body, headers["content-type"] = form_data(form)
        else:
            headers["content-type"] = "application/x-www-form-urlencoded"
            body = raw_body if raw_body is not None else ("" if method == "DELETE" else None)
        resp = await self.http.request(method, self.uri(profile, attribute, **params),
                                       data=body, headers=headers)
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("application/json")
        return await resp.json()

    async def get(self, profile, attribute=None, **params) -> dict:
        return await self.send("GET", profile, attribute, **params)

    async def authorize(self) -> str:
        grant = await self.get("authorization", "grant")
        assert grant["result"] == 0, grant
        self.client_id = grant["clientId"]
        answer = await self.get("authorization", "accessToken", clientId=self.client_id,
                                scope=",".join(self.scopes), applicationName=self.app_name)
        assert answer["result"] == 0, answer
        self.token = answer["accessToken"]
        return self.token

    async def discover(self) -> str:
        found = await self.get("servicediscovery")
        assert found["result"] == 0, found
        self.service_id = found["services"][0]["id"]
        return self.service_id

    async def msr(self, method: str, attribute: str, *, profile: str = "mediastreamrecording",
                  form: dict | None = None, **params) -> dict:
        """A MediaStreamRecording call: serviceId (and the rest) in a FormData body for
        PUT/POST, in the query for GET/DELETE; the access token in the query."""
        if method in ("PUT", "POST") and form is None:
            return await self.send(method, profile, attribute,
                                   form={"serviceId": self.service_id, **params})
        return await self.send(method, profile, attribute, form=form,
                               serviceId=self.service_id, **params)

    async def connect_websocket(self):
        ws = await self.http.ws_connect("/gotapi/websocket", headers={"Origin": self.origin})
        await ws.send_str('{"accessToken":"' + (self.token or "") + '"}')
        answer = json.loads((await ws.receive(timeout=10)).data)
        assert answer == {"result": 0}, answer
        return ws


async def next_event(ws, attribute: str, timeout: float = 10.0, **match) -> dict:
    """The next event of that attribute whose `media`/`photo` fields match (others skipped)."""
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0:
            raise AssertionError(f"no {attribute} event matching {match}")
        message = await ws.receive(timeout=left)
        event = json.loads(message.data)
        if event.get("attribute") != attribute:
            continue
        inner = event.get("media") or event.get("photo") or {}
        if all(inner.get(k) == v for k, v in match.items()):
            return event


async def online_source(http, name: str = "cam", uri: str | None = None) -> int:
    """A source added through the native API, once it is online (default: the test pattern)."""
    import asyncio

    from tests.conftest import TESTSRC

    resp = await http.post("/api/v1/source", json={"name": name, "uri_rtsp": uri or TESTSRC})
    source = await resp.json()
    assert resp.status in (200, 201), source
    for _ in range(400):
        if (await (await http.get(f"/api/v1/source/{source['id']}")).json())["status"] == "online":
            return source["id"]
        await asyncio.sleep(0.05)
    raise AssertionError("source never came online")


async def authorized(http, **kwargs) -> SdkClient:
    """A client that has its access token and the service id, as after the SDK's
    `authorization()` and `discoverDevices()`."""
    sdk = SdkClient(http, **kwargs)
    await sdk.authorize()
    await sdk.discover()
    return sdk


def assert_error(answer: dict, code: int) -> None:
    assert answer["result"] == 1 and answer["errorCode"] == code, answer
    assert answer["errorMessage"]
