"""Attacks on the Device Connect dialect (`/gotapi`) of a real station process (#11 items 1, 5
and 7): event sockets bound by anything but a valid token, events and answers leaking another
client's token, idle and surplus sockets, a Device Connect token opening media it was never
handed, auto-approve for clients that are not on loopback, and parameters that cost memory.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import aiohttp
import pytest

from tests.api.dc_client import SdkClient, form_data, next_event
from tests.conftest import TESTSRC
from tests.security.conftest import TOKEN
from tests.support import netns
from tests.support.station_process import StationProcess

CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)


# --- helpers ---------------------------------------------------------------------------------
async def _sdk(http: aiohttp.ClientSession) -> SdkClient:
    sdk = SdkClient(http)
    await sdk.authorize()
    await sdk.discover()
    return sdk


async def _online_source(station: StationProcess, token: str | None = TOKEN) -> int:
    status, body, _ = await asyncio.to_thread(
        station.call, "POST", "/api/v1/source", {"name": "cam", "uri_rtsp": TESTSRC}, token=token)
    assert status in (200, 201), body
    for _ in range(300):
        _, source, _ = await asyncio.to_thread(station.call, "GET", f"/api/v1/source/{body['id']}",
                                               token=token)
        if source["status"] == "online":
            return body["id"]
        await asyncio.sleep(0.1)
    raise AssertionError("the test source never came online")


async def _native_record(station: StationProcess, source_id: int, tag: str) -> str:
    """Start a recording of the source through the native API (the station token); its id."""
    call = station.call
    _, groups, _ = await asyncio.to_thread(call, "GET", "/api/v1/group", token=TOKEN)
    if not any(g["name"] == "hall" for g in groups):
        _, (group,), _ = await asyncio.to_thread(call, "POST", "/api/v1/group", {"name": "hall"},
                                                 token=TOKEN)
        await asyncio.to_thread(call, "POST", f"/api/v1/group/{group['id']}/source/{source_id}",
                                token=TOKEN)
    status, records, _ = await asyncio.to_thread(
        call, "POST", "/api/v1/record", {"tag_name": tag, "group_name": "hall"}, token=TOKEN)
    assert status == 200, records
    return records[0]["id"]


async def _fetch(url: str) -> tuple[int, bytes]:
    """GET an absolute `uri` as an <img>/<video> would (no headers, a new connection)."""
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.content.read(4096)


def _with_token(uri: str, token: str) -> str:
    """The same medium asked for with another token."""
    base, _, query = uri.partition("?")
    rest = [p for p in query.split("&") if p and not p.startswith("accessToken=")]
    return base + "?" + "&".join([*rest, f"accessToken={token}"])


async def _refused_socket(http: aiohttp.ClientSession, first: str) -> dict:
    """Open the event socket, send `first`; the answer, after which the socket must close."""
    ws = await http.ws_connect("/gotapi/websocket")
    await ws.send_str(first)
    answer = json.loads((await ws.receive(timeout=5)).data)
    assert (await ws.receive(timeout=5)).type in CLOSED, "a refused socket stays open"
    await ws.close()
    return answer


async def _quiet(ws, seconds: float) -> list[str]:
    """Everything a socket hears within `seconds`."""
    heard = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await ws.receive(timeout=left)
        except asyncio.TimeoutError:
            break
        if message.type in CLOSED:
            break
        heard.append(message.data)
    return heard


# --- item 1: events only to their client ----------------------------------------------------
async def test_socket_bound_by_session_key_or_client_id_gets_nothing(token_station):
    source_id = await _online_source(token_station)
    async with aiohttp.ClientSession(base_url=token_station.url) as http:
        victim = await _sdk(http)
        assert (await victim.msr("PUT", "onrecordingchange", sessionKey=victim.client_id))[
            "result"] == 0
        victim_ws = await victim.connect_websocket()
        for first in (json.dumps({"sessionKey": victim.client_id}),
                      json.dumps({"accessToken": victim.client_id}),
                      json.dumps({"clientId": victim.client_id}),
                      json.dumps({"accessToken": "", "sessionKey": victim.client_id})):
            answer = await _refused_socket(http, first)
            assert answer["result"] == 1 and answer["errorCode"] in (11, 13), (first, answer)
            assert victim.token not in json.dumps(answer)
        started = await victim.msr("POST", "record", target=str(source_id))
        event = await next_event(victim_ws, "onrecordingchange", status="recording")
        assert event["media"]["recordId"] == started["recordId"]  # the victim still hears it
        await victim.msr("PUT", "stop", target=str(source_id))
        await victim_ws.close()
    log = token_station.log_text()
    assert log.count("auth refused: dialect=device-connect") >= 4
    assert victim.client_id not in log and victim.token not in log  # clientId is a secret too


async def test_events_reach_only_their_client_with_its_own_token(token_station):
    source_id = await _online_source(token_station)
    async with aiohttp.ClientSession(base_url=token_station.url) as http:
        alice, bob = await _sdk(http), await _sdk(http)
        alice_ws, bob_ws = await alice.connect_websocket(), await bob.connect_websocket()
        await alice.msr("PUT", "onrecordingchange")
        await alice.msr("PUT", "onphoto")

        started = await alice.msr("POST", "record", target=str(source_id))
        await asyncio.sleep(0.5)
        await alice.msr("PUT", "stop", target=str(source_id))
        await alice.msr("POST", "takephoto", target=str(source_id))
        first = await next_event(alice_ws, "onrecordingchange", status="recording")
        assert f"accessToken={alice.token}" in first["media"]["uri"]
        assert await _quiet(bob_ws, 1.5) == []  # Bob registered nothing: he hears nothing

        # Bob registers too: now he hears the station's recordings, with his own token only
        await bob.msr("PUT", "onrecordingchange")
        await _native_record(token_station, source_id, "native")
        bob_event = await next_event(bob_ws, "onrecordingchange", status="recording")
        alice_event = await next_event(alice_ws, "onrecordingchange", status="recording")
        assert bob_event["media"]["recordId"] == alice_event["media"]["recordId"]
        assert f"accessToken={bob.token}" in bob_event["media"]["uri"]
        assert f"accessToken={alice.token}" in alice_event["media"]["uri"]
        bob_heard = [json.dumps(bob_event), *await _quiet(bob_ws, 1.0)]
        for attribute in ("mediarecorder", "preview", "options"):
            bob_heard.append(json.dumps(await bob.msr("GET", attribute,
                                                      target=str(source_id))))
        bob_heard.append(json.dumps(await bob.msr("PUT", "stop", target=str(source_id))))
        assert all(alice.token not in text for text in bob_heard)
        assert all(alice.client_id not in text for text in bob_heard)
        assert bob.token not in json.dumps(alice_event)
        assert started["recordId"] != bob_event["media"]["recordId"]
        await alice_ws.close()
        await bob_ws.close()


async def test_unauthenticated_socket_is_closed_within_5_s(open_station):
    """Two sockets side by side, one quiet and one pinging every 0.5 s (control frames must
    not keep it open): each is told why and closed 5 s after it opened."""
    async with aiohttp.ClientSession(base_url=open_station.url) as http:
        async def closed_after(pinging: bool) -> float:
            ws = await http.ws_connect("/gotapi/websocket", autoping=True)
            began = time.monotonic()

            async def keep_pinging() -> None:
                while True:
                    await asyncio.sleep(0.5)
                    await ws.ping()

            pinger = asyncio.create_task(keep_pinging()) if pinging else None
            try:
                answer = await ws.receive(timeout=10)
                assert answer.type == aiohttp.WSMsgType.TEXT, pinging
                assert json.loads(answer.data)["errorCode"] == 13
                assert (await ws.receive(timeout=5)).type in CLOSED, pinging
                return time.monotonic() - began
            finally:
                if pinger is not None:
                    pinger.cancel()
                    await asyncio.gather(pinger, return_exceptions=True)
                await ws.close()

        quiet, pinging = await asyncio.gather(closed_after(False), closed_after(True))
    assert 4.0 <= quiet <= 7.0 and 4.0 <= pinging <= 7.0, (quiet, pinging)


async def test_65th_socket_of_one_token_is_refused(token_station):
    async with aiohttp.ClientSession(base_url=token_station.url) as http:
        sdk = await _sdk(http)
        sockets = [await sdk.connect_websocket() for _ in range(64)]
        answer = await _refused_socket(http, json.dumps({"accessToken": sdk.token}))
        assert (answer["result"], answer["errorCode"]) == (1, 17), answer
        await sockets.pop().close()
        await asyncio.sleep(0.3)
        sockets.append(await sdk.connect_websocket())  # a closed socket frees its place
        await asyncio.gather(*(ws.close() for ws in sockets))


# --- item 5: a Device Connect token opens only what was handed to its client ---------------------
async def test_dc_token_fetches_only_media_handed_to_its_client(token_station):
    source_id = await _online_source(token_station)
    native_id = await _native_record(token_station, source_id, "board-meeting")
    await asyncio.sleep(0.6)
    await asyncio.to_thread(token_station.call, "PUT", "/api/v1/record",
                            {"tag_name": "board-meeting"}, token=TOKEN)
    native_video = f"{token_station.url}/api/v1/record/{native_id}/video"
    async with aiohttp.ClientSession(base_url=token_station.url) as http:
        alice, bob = await _sdk(http), await _sdk(http)
        await alice.msr("POST", "record", target=str(source_id))
        await asyncio.sleep(0.6)
        stopped = await alice.msr("PUT", "stop", target=str(source_id))
        assert (await _fetch(stopped["uri"]))[0] == 200  # handed to Alice
        assert (await _fetch(_with_token(native_video, alice.token)))[0] == 401  # never handed
        assert (await _fetch(_with_token(stopped["uri"], bob.token)))[0] == 401  # not Bob's

        picture = f"{token_station.url}/api/v1/source/{source_id}/picture"
        mjpeg = f"{token_station.url}/api/v1/source/{source_id}/video"
        assert (await _fetch(_with_token(picture, bob.token)))[0] == 401
        preview = await bob.msr("GET", "preview", target=str(source_id))
        assert (await _fetch(preview["uri"]))[0] == 200
        assert (await _fetch(_with_token(mjpeg, bob.token)))[0] == 401  # only the picture so far
        stream = await bob.msr("PUT", "preview", target=str(source_id))
        async with aiohttp.ClientSession() as session, session.get(stream["uri"]) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("multipart/x-mixed-replace")

        photo = await alice.msr("POST", "takephoto", target=str(source_id))
        status, body = await _fetch(photo["uri"])
        assert status == 200 and body[:2] == b"\xff\xd8"
        status, body = await _fetch(_with_token(photo["uri"], bob.token))
        stolen = json.loads(body)
        status, body = await _fetch(_with_token(photo["uri"].replace(".jpg", "x.jpg"),
                                                alice.token))
        missing = json.loads(body)
        assert stolen["errorCode"] == missing["errorCode"] == 10  # same as a missing photo
        assert stolen["errorMessage"] == missing["errorMessage"]
    log = token_station.log_text()
    assert alice.token not in log and bob.token not in log


# --- item 5: auto-approve only on loopback; the station token vouches ------------------------------
async def test_auto_approve_refused_to_a_foreign_web_page_on_loopback(token_station):
    """Any site the operator opens runs on loopback too: its browser's Origin gives it away."""
    async with aiohttp.ClientSession(base_url=token_station.url) as http:
        async def ask(origin: str | None):
            client = (await (await http.get("/gotapi/authorization/grant")).json())["clientId"]
            try:
                async with http.get("/gotapi/authorization/accessToken", params={
                        "clientId": client, "scope": "mediastreamrecording",
                        "applicationName": "page"}, headers={"Origin": origin} if origin else {},
                        timeout=aiohttp.ClientTimeout(total=2)) as resp:
                    return await resp.json()
            except asyncio.TimeoutError:
                return "waiting"

        assert await ask("https://evil.example") == "waiting"  # the operator decides
        assert await ask("null") == "waiting"
        for local in (None, "http://localhost:8080", "http://127.0.0.1:3000"):
            answer = await ask(local)
            assert answer != "waiting" and answer["result"] == 0, (local, answer)
    assert "evil.example" in token_station.log_text()  # asked, with the page named



_GRANT_AND_ASK = """
import json, sys, threading, urllib.request, urllib.error
base, count, headers = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
def get(path, timeout):
    req = urllib.request.Request(base + path, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())
results = [None] * count
def ask(i):
    client = get("/gotapi/authorization/grant", 10)["clientId"]
    try:
        answer = get("/gotapi/authorization/accessToken?clientId=" + client
                     + "&scope=mediastreamrecording&applicationName=probe", 3)
        results[i] = {"result": answer["result"], "errorCode": answer.get("errorCode"),
                      "token": bool(answer.get("accessToken"))}
    except (TimeoutError, OSError):
        results[i] = "waiting"
threads = [threading.Thread(target=ask, args=(i,)) for i in range(count)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(results))
"""


def _ask(net: netns.NetPair, where: str, base: str, count: int = 1,
         headers: dict[str, str] | None = None) -> list:
    code = "import sys; sys.argv = ['x', %r, %r, %r]\n" % (base, str(count),
                                                         json.dumps(headers or {}))
    return json.loads(net.python(where, code + _GRANT_AND_ASK))


def test_auto_approve_refused_to_a_client_not_on_loopback(tmp_path):
    why = netns.available()
    if why:
        pytest.skip(why)
    with netns.NetPair() as net:
        station = StationProcess(tmp_path, host="0.0.0.0", prefix=net.prefix("station"), env={
            "RS_TOKEN": TOKEN, "RS_DC_AUTO_APPROVE": "true", "RS_DC_USER": "admin"})
        try:
            remote = f"http://{netns.STATION_ADDRESS}:{station.port}"
            local = f"http://127.0.0.1:{station.port}"
            # a client on loopback: auto-approved at once
            assert _ask(net, "station", local) == [{"result": 0, "errorCode": None,
                                                    "token": True}]
            # from another host: it waits for the operator; at most 4 from one address wait
            answers = _ask(net, "client", remote, count=5)
            assert answers.count("waiting") == 4, answers
            assert {"result": 1, "errorCode": 17, "token": False} in answers
            # the station token gets one at once; a wrong station token is refused at once
            assert _ask(net, "client", remote, headers={"Authorization": f"Bearer {TOKEN}"}) \
                == [{"result": 0, "errorCode": None, "token": True}]
            assert _ask(net, "client", remote, headers={"X-Auth-Token": "guess"}) \
                == [{"result": 1, "errorCode": 11, "token": False}]
            # the host's own non-loopback address is not loopback either
            assert _ask(net, "station", remote) == ["waiting"]
        finally:
            station.stop()
        log = station.log_text()
        assert f"from {netns.CLIENT_ADDRESS}" in log  # what the operator is asked about
        assert "auth refused: dialect=device-connect" in log and TOKEN not in log


# --- item 7: what one request's parameters may cost ------------------------------------------------
def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _stalled_multipart(host: str, port: int, sent: int) -> socket.socket:
    """A chunked multipart POST (no length to refuse it by) that sends `sent` bytes of 60 KiB
    fields, then stalls without ending the body."""
    field = b"x" * (60 << 10)
    boundary = "----WebKitFormBoundaryStall0000000"
    sock = socket.create_connection((host, port), timeout=10)
    sock.sendall((f"POST /gotapi/mediastreamrecording/record HTTP/1.1\r\nHost: {host}:{port}\r\n"
                  f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n").encode())
    try:
        for i in range(sent // len(field)):
            part = (f'--{boundary}\r\nContent-Disposition: form-data; name="f{i}"\r\n\r\n'
                    .encode() + field + b"\r\n")
            sock.sendall(b"%x\r\n%s\r\n" % (len(part), part))
    except OSError:
        pass  # the station answered and stopped reading: that is the point
    return sock


def _answer_of(sock: socket.socket) -> dict:
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    return json.loads(body[body.index(b"{"):body.rindex(b"}") + 1])


def test_stalled_parameter_bodies_are_refused_and_bounded(open_station):
    before = _rss_kib(open_station.proc.pid)
    sockets = [_stalled_multipart(open_station.host, open_station.port, 2 << 20)
               for _ in range(40)]
    try:
        answers = [_answer_of(sock) for sock in sockets]  # answered while the body is unfinished
        grown = _rss_kib(open_station.proc.pid) - before
    finally:
        for sock in sockets:
            sock.close()
    assert all(a["result"] == 1 and a["errorCode"] == 10 for a in answers), answers[:2]
    assert "larger than" in answers[0]["errorMessage"]
    assert grown < 40 << 10, f"40 stalled requests grew the station by {grown} KiB"
    status, body, _ = open_station.call("GET", "/gotapi/availability")
    assert status == 200 and body["result"] == 0  # still answering


async def test_too_many_or_too_complex_parameters_are_code_10(token_station):
    async with aiohttp.ClientSession(base_url=token_station.url) as http:
        sdk = await _sdk(http)
        uri = sdk.uri("mediastreamrecording", "onrecordingchange", serviceId=sdk.service_id)
        many = "&".join(f"p{i}=1" for i in range(70))
        bodies = (
            ("application/x-www-form-urlencoded", many.encode()),
            (*reversed(form_data({f"p{i}": "1" for i in range(70)})),),
            ("application/json", b'{"a": [' + b"[]," * 300 + b"[]]}"),
            ("application/json", b'{"' + b"n" * 200 + b'": 1}'),
        )
        for ctype, body in bodies:
            async with http.put(uri, data=body, headers={"Content-Type": ctype}) as resp:
                answer = await resp.json()
            assert (answer["result"], answer["errorCode"]) == (1, 10), (ctype, answer)
        body, ctype = form_data({"serviceId": sdk.service_id, "sessionKey": "s"})
        async with http.put(uri, data=body, headers={"Content-Type": ctype}) as resp:
            assert (await resp.json())["result"] == 0  # what the SDK sends still works


# --- item 5: failed authentication is counted per address ------------------------------------------
async def test_guessing_tokens_locks_the_address_out_in_the_dc_shape(open_station):
    async with aiohttp.ClientSession(base_url=open_station.url) as http:
        sdk = SdkClient(http)
        answers = []
        for i in range(10):
            sdk.token = f"guess-{i}"
            answers.append(await sdk.get("servicediscovery"))
        assert {a["errorCode"] for a in answers} == {11}
        async with http.get("/gotapi/availability") as resp:  # even an open profile now
            assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
            answer = await resp.json()
        assert (answer["result"], answer["errorCode"]) == (1, 17), answer
        assert resp.headers["Access-Control-Allow-Origin"]  # a page can read why
    log = open_station.log_text()
    assert log.count("auth refused: dialect=device-connect") == 10
    assert "guess-" not in log
