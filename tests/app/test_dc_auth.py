"""DeviceConnectAuth's rules on a real event bus: who gets a token at once, how many requests
may wait for the operator, and which media a token may fetch (bounded memory)."""

from __future__ import annotations

import pytest

from app.dialects.device_connect import dc_auth
from app.dialects.device_connect.dc_auth import DeviceConnectAuth, TooManyRequests, is_loopback
from app.events import AccessRequested, EventBus

SCOPE = "mediastreamrecording"


@pytest.fixture
def auth():
    return DeviceConnectAuth(EventBus(), auto_approve=lambda: True, token_ttl_s=lambda: 3600)


def _ask(auth: DeviceConnectAuth, address: str, **kwargs):
    return auth.request_access(auth.grant(), SCOPE, "app", "http://page", address=address, **kwargs)


@pytest.mark.parametrize("address, local", [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("::ffff:127.0.0.1", True),
    ("198.51.100.2", False), ("::ffff:198.51.100.2", False), ("", False), ("-", False),
    ("localhost", False), ("fe80::1%eth0", False)])
def test_loopback_is_an_address_not_a_name(address, local):
    assert is_loopback(address) is local


def test_auto_approve_only_on_loopback_the_station_token_vouches(auth):
    heard = []
    auth.bus.subscribe(heard.append)
    assert _ask(auth, "127.0.0.1").future.done()
    remote = _ask(auth, "198.51.100.2")
    assert not remote.future.done() and auth.pending() == [remote]
    (asked,) = [e for e in heard if isinstance(e, AccessRequested)]
    heard.clear()
    assert asked.origin == "http://page (from 198.51.100.2)"  # the operator sees where from
    assert not _ask(auth, "127.0.0.1", foreign_page=True).future.done()  # a site in a browser
    assert _ask(auth, "198.51.100.2", station_token_ok=True).future.result().token
    assert auth.decide(remote.request_id, True) and remote.future.result().token


def test_waiting_requests_are_capped_overall_and_per_address(auth):
    for _ in range(dc_auth.MAX_PENDING_PER_ADDRESS):
        _ask(auth, "198.51.100.2")
    with pytest.raises(TooManyRequests):
        _ask(auth, "198.51.100.2")
    for i in range(dc_auth.MAX_PENDING - dc_auth.MAX_PENDING_PER_ADDRESS):
        _ask(auth, f"203.0.113.{i}")
    assert len(auth.pending()) == dc_auth.MAX_PENDING
    with pytest.raises(TooManyRequests):
        _ask(auth, "192.0.2.77")
    assert _ask(auth, "192.0.2.77", station_token_ok=True).future.done()  # not queued
    auth.expire(auth.pending()[0].request_id)
    _ask(auth, "192.0.2.77")  # a place came free
    assert len(auth.pending()) == dc_auth.MAX_PENDING


def test_a_token_fetches_only_what_its_client_was_handed(auth):
    alice = _ask(auth, "127.0.0.1").future.result()
    bob = _ask(auth, "127.0.0.1").future.result()
    auth.hand(alice.client_id, "record", "r1")
    auth.hand(alice.client_id, "picture", 3)
    assert auth.media_token(alice.token, SCOPE, "record", "r1") == alice
    assert auth.media_token(alice.token, SCOPE, "picture", "3") == alice
    assert auth.media_token(alice.token, SCOPE, "mjpeg", "3") is None
    assert auth.media_token(alice.token, SCOPE, "record", "r2") is None
    assert auth.media_token(bob.token, SCOPE, "record", "r1") is None
    assert auth.media_token("forged", SCOPE, "record", "r1") is None
    auth.clock = lambda: 1e12  # expired: nothing any more
    assert auth.media_token(alice.token, SCOPE, "record", "r1") is None


def test_handed_media_memory_is_bounded(auth):
    token = _ask(auth, "127.0.0.1").future.result()
    for i in range(dc_auth.MAX_HANDED_PER_CLIENT + 10):
        auth.hand(token.client_id, "record", f"r{i}")
    assert auth.media_token(token.token, SCOPE, "record", "r0") is None  # the oldest forgotten
    assert auth.media_token(token.token, SCOPE, "record",
                            f"r{dc_auth.MAX_HANDED_PER_CLIENT + 9}") == token
    for i in range(dc_auth.MAX_CLIENTS_WITH_MEDIA):
        auth.hand(f"client-{i}", "photo", "p.jpg")
    assert auth.media_token(token.token, SCOPE, "record",
                            f"r{dc_auth.MAX_HANDED_PER_CLIENT + 9}") is None
    assert len(auth._handed) == dc_auth.MAX_CLIENTS_WITH_MEDIA
