"""HTTPS: a real station process with `tls_cert`/`tls_key` from a test CA (made with the
`openssl` command), driven by the official Huawei SDKs trusting that CA; plain HTTP and
clients that do not trust the CA get nothing."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from huaweicloudsdkcloudrtc.v2 import (
    CreateIndividualStreamJobRequest,
    IndividualStreamJobReq,
    RecordParam,
    StopIndividualStreamJobRequest,
)
from huaweicloudsdklive.v1 import RecordControlInfo, RunRecordRequest

from tests.conftest import TESTSRC
from tests.support.huawei import AK, APP_ID, PROJECT, SK, live_client, rtc_client
from tests.support.station_process import StationProcess

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def test_ca(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1 and localhost, signed by it (P-256 keys)."""
    d = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Recording Station test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
            cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                  "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                                  "keyUsage=critical,digitalSignature\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
            cwd=d)
    (d / "server.key").chmod(0o600)
    return d


@pytest.fixture
def tls_station(tmp_path, test_ca):
    context = ssl.create_default_context(cafile=str(test_ca / "ca.pem"))
    with StationProcess(tmp_path, name="tls", ssl_context=context, env={
            "RS_TLS_CERT": str(test_ca / "server.pem"), "RS_TLS_KEY": str(test_ca / "server.key"),
            "RS_TOKEN": "tls-token-0123456789", "RS_HUAWEI_AK": AK, "RS_HUAWEI_SK": SK,
            "RS_HUAWEI_PROJECT_ID": PROJECT, "RS_HUAWEI_APP_ID": APP_ID}) as station:
        yield station


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_the_station_serves_https_only_and_says_so(tls_station, test_ca):
    assert tls_station.url.startswith("https://127.0.0.1:")  # the printed API: line
    status, body, _ = tls_station.call("GET", "/api/v1/source", token="tls-token-0123456789")
    assert status == 200 and body == []
    # plain HTTP on the same port gets no answer
    with socket.create_connection((tls_station.host, tls_station.port), timeout=10) as s:
        s.sendall(b"GET /api/v1/source HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        s.settimeout(10)
        try:
            answer = s.recv(4096)
        except ConnectionResetError:
            answer = b""
    assert b"HTTP/1.1 200" not in answer and b"[]" not in answer
    # a client that does not trust the test CA refuses the station's certificate
    with pytest.raises(urllib.error.URLError) as exc:
        urllib.request.urlopen(f"{tls_station.url}/api/v1/source", timeout=10,
                               context=ssl.create_default_context())
    assert isinstance(exc.value.reason, ssl.SSLCertVerificationError)
    # TLS 1.0/1.1 are not offered
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(test_ca / "ca.pem"))
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        with socket.create_connection((tls_station.host, tls_station.port), timeout=10) as raw:
            with old.wrap_socket(raw, server_hostname="127.0.0.1"):
                pass
    assert "BEGIN" not in tls_station.log_text()  # no key or certificate material logged


def test_the_official_sdks_work_over_https(tls_station, test_ca):
    token = {"Authorization": "Bearer tls-token-0123456789"}
    status, (group,), _ = tls_station.call("POST", "/api/v1/group", {"name": "live"},
                                           headers=token)
    assert status in (200, 201), group
    status, source, _ = tls_station.call("POST", "/api/v1/source",
                                         {"name": "cam", "uri_rtsp": TESTSRC}, headers=token)
    assert status in (200, 201), source
    status, _, _ = tls_station.call("POST", f"/api/v1/group/{group['id']}/source/{source['id']}",
                                    headers=token)
    assert status in (200, 201, 204)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, shown, _ = tls_station.call("GET", f"/api/v1/source/{source['id']}", headers=token)
        if shown.get("status") == "online":
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the test pattern did not come online: {shown}")

    ca = str(test_ca / "ca.pem")
    live = live_client(tls_station.url, ca=ca)
    started = live.run_record(RunRecordRequest(action="START", body=RecordControlInfo(
        publish_domain="publish.example.com", app="live", stream="cam")))
    assert started.x_request_id
    _, running, _ = tls_station.call("GET", "/api/v1/record/running?tag_name=live", headers=token)
    assert running is True
    time.sleep(1.0)
    live.run_record(RunRecordRequest(action="STOP", body=RecordControlInfo(
        publish_domain="publish.example.com", app="live", stream="cam")))

    rtc = rtc_client(tls_station.url, ca=ca)
    created = rtc.create_individual_stream_job(CreateIndividualStreamJobRequest(
        app_id=APP_ID, body=IndividualStreamJobReq(room_id="live", user_id="cam",
                                                   record_param=RecordParam())))
    assert created.job_id and created.state == "RUNNING"
    time.sleep(1.0)
    rtc.stop_individual_stream_job(StopIndividualStreamJobRequest(app_id=APP_ID,
                                                                  job_id=created.job_id))
    status, records, _ = tls_station.call("GET", "/api/v1/record?tag_name=live", headers=token)
    assert status == 200 and len(records) == 2
    assert all(r["status"] == "finished" for r in records), records
