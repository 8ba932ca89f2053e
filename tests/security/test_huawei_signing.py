"""Attacks on the Huawei AK/SK signatures of a real station process: a captured signed request
sent again, its body swapped, a lying `X-Sdk-Content-Sha256`, telling an unknown AK from a wrong
signature, guessing signatures until locked out. Requests are signed by the official SDK's
own signer (huaweicloudsdkcore), as a real client's would be."""

from __future__ import annotations

import hashlib
import json

from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from tests.security.conftest import TOKEN

AK, SK = "AKTEST0123456789", "sk-secret-0123456789"  # token_station's
PATH = "/v1/proj-1/record/control"
BODY = {"publish_domain": "publish.example.com", "app": "live", "stream": "cam"}


def sign(station, body: bytes, *, ak: str = AK, sk: str = SK, query: str = "action=START",
         method: str = "POST", path: str = PATH, extra: dict | None = None) -> dict:
    """The headers huaweicloudsdkcore's Signer puts on a request to the station."""
    netloc = f"{station.host}:{station.port}"
    params = [tuple(p.split("=", 1)) for p in query.split("&") if p]
    request = SdkRequest(method=method, schema="http", host=netloc, resource_path=path,
                         query_params=params,
                         header_params={"Content-Type": "application/json", **(extra or {})},
                         body=body)
    Signer(BasicCredentials(ak, sk)).sign(request)
    return dict(request.header_params)


def send(station, headers: dict, body: bytes, query: str = "action=START", path: str = PATH):
    status, raw, response_headers = station.request("POST", f"{path}?{query}", body=body,
                                                    headers=headers)
    return status, json.loads(raw or b"null"), response_headers


def test_a_signed_request_is_accepted_once(token_station):
    body = json.dumps(BODY).encode()
    headers = sign(token_station, body)
    status, first, _ = send(token_station, headers, body)
    # authenticated: the service answers (no such stream here) rather than the gateway
    assert status == 404 and first["error_code"] == "LIVE.100011001"
    status, again, _ = send(token_station, headers, body)  # the very same bytes, resent
    assert status == 401 and again["error_code"] == "APIG.0301"
    assert "replay" in again["error_msg"]
    # a request signed anew passes again
    status, _, _ = send(token_station, sign(token_station, body, extra={"X-Try": "2"}), body)
    assert status == 404
    log = token_station.log_text()
    assert "replay" in log and SK not in log and headers["Authorization"].split("=")[-1] not in log


def test_a_body_swapped_under_a_valid_signature_is_refused(token_station):
    signed_body = json.dumps({**BODY, "stream": "harmless"}).encode()
    evil_body = json.dumps({**BODY, "stream": "cam", "app": "other"}).encode()
    # the signature as the SDK makes it (hash of the body inside the canonical request)
    headers = sign(token_station, signed_body)
    status, answer, _ = send(token_station, headers, evil_body)
    assert status == 401 and answer["error_code"] == "APIG.0301"
    # the review's attack: the signature covered a declared X-Sdk-Content-Sha256, not the body
    declared = {"X-Sdk-Content-Sha256": hashlib.sha256(signed_body).hexdigest()}
    headers = sign(token_station, signed_body, extra=declared)
    status, answer, _ = send(token_station, headers, evil_body)
    assert status == 401 and "does not match the body" in answer["error_msg"]
    # with the body it declared, the same kind of request is fine
    status, _, _ = send(token_station, sign(token_station, signed_body, extra=declared), signed_body)
    assert status == 404


def test_a_lying_or_unsigned_content_hash_is_refused(token_station):
    body = json.dumps(BODY).encode()
    for declared in (hashlib.sha256(b"something else").hexdigest(), "UNSIGNED-PAYLOAD",
                     "not-a-hash"):
        headers = sign(token_station, body, extra={"X-Sdk-Content-Sha256": declared})
        status, answer, _ = send(token_station, headers, body)
        assert status == 401 and answer["error_code"] == "APIG.0301", declared
        assert "X-Sdk-Content-Sha256" in answer["error_msg"]
    # the right hash declared is accepted (the signer then signs that value)
    right = {"X-Sdk-Content-Sha256": hashlib.sha256(body).hexdigest()}
    status, _, _ = send(token_station, sign(token_station, body, extra=right), body)
    assert status == 404


def test_an_unknown_access_key_and_a_wrong_signature_read_the_same(token_station):
    body = json.dumps(BODY).encode()
    answers = []
    for ak, sk in ((AK, "not-the-secret-key"), ("AKUNKNOWN0000000", SK),
                   ("AKUNKNOWN0000000", "not-the-secret-key")):
        status, answer, headers = send(token_station, sign(token_station, body, ak=ak, sk=sk), body)
        answer.pop("request_id")
        answers.append((status, answer, headers.get("Content-Type")))
    assert answers[0][0] == 401 and answers[0][1]["error_code"] == "APIG.0301"
    assert answers[0] == answers[1] == answers[2]
    # the RTC dialect alike, in its own shape
    rtc = "/v2/apps/app-1/individual-stream-jobs"
    rtc_body = json.dumps({"room_id": "r", "user_id": "u", "record_param": {}}).encode()
    rtc_answers = []
    for ak, sk in ((AK, "not-the-secret-key"), ("AKUNKNOWN0000000", SK)):
        headers = sign(token_station, rtc_body, ak=ak, sk=sk, query="", path=rtc)
        status, raw, _ = token_station.request("POST", rtc, body=rtc_body, headers=headers)
        answer = json.loads(raw)
        answer.pop("request_id")
        rtc_answers.append((status, answer))
    assert rtc_answers[0] == rtc_answers[1] and rtc_answers[0][0] == 401
    assert rtc_answers[0][1]["error_code"] == "RTC.00001001"


def test_guessing_signatures_is_locked_out_after_ten_failures(token_station):
    body = json.dumps(BODY).encode()
    for attempt in range(10):
        headers = sign(token_station, body, sk=f"guess-{attempt}")
        assert send(token_station, headers, body)[0] == 401
    status, answer, headers = send(token_station, sign(token_station, body, sk="guess-11"), body)
    assert status == 429 and answer["error_code"] == "APIG.0308"
    assert int(headers["Retry-After"]) >= 1 and headers["X-request-id"]
    # locked out: wrong signatures keep getting 429, while the right signature or the station
    # token passes (#21 item 14: a valid credential is never locked out)
    status, _, _ = send(token_station, sign(token_station, body, sk="guess-12"), body)
    assert status == 429
    status, _, _ = send(token_station, sign(token_station, body), body)
    assert status not in (401, 429)
    status, _, _ = token_station.call("POST", f"{PATH}?action=START", BODY,
                                      headers={"X-Auth-Token": TOKEN})
    assert status not in (401, 429)
    log = token_station.log_text()
    assert log.count("auth refused: dialect=huawei-live") >= 10
    assert SK not in log and TOKEN not in log
