"""The naming rules of adding found cameras (app.services.camera_import): the camera's own
ONVIF name first, else its model plus address; a taken name numbered, compared ignoring case."""

from __future__ import annotations

from app.services.camera_import import ImportSummary, camera_name, free_name
from app.services.discovery import CameraProfiles, FoundCamera


def _found(name: str) -> FoundCamera:
    return FoundCamera(name=name, model="DS-2CD", address="10.0.0.7", xaddrs=[], endpoint="urn:x")


def _profiles() -> CameraProfiles:
    return CameraProfiles(address="10.0.0.7", model="DS-2CD", name="DS-2CD 10.0.0.7", profiles=[],
                          uri_rtsp=None, uri_preview=None, snapshot_uri=None)


def test_a_camera_is_named_by_itself_then_by_model_and_address():
    assert camera_name(_found(" Loading Dock "), _profiles()) == "Loading Dock"
    assert camera_name(_found(""), _profiles()) == "DS-2CD 10.0.0.7"
    assert camera_name(None, _profiles()) == "DS-2CD 10.0.0.7"  # an address typed by hand
    assert len(camera_name(_found("x" * 300), _profiles())) == 100


def test_a_taken_name_gets_the_next_free_number():
    assert free_name("Dock", set()) == "Dock"
    assert free_name("Dock", {"dock"}) == "Dock (2)"
    assert free_name("Dock", {"dock", "dock (2)"}) == "Dock (3)"
    assert len(free_name("y" * 100, {"y" * 100})) == 100


def test_the_summary_says_what_was_added_where_and_what_failed():
    assert ImportSummary().text() == "No camera was added."
