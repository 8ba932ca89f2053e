"""Evidence packages (#25 item 5) on a real station core with records placed in the catalog
(real small H.264 files, no camera): a package folder and a zip are verified by the station's
own verify command AND by an examiner's check written here with `hashlib` and `cryptography`
only; one flipped byte fails naming the file; a changed manifest fails the signature; the
manifest names cameras without credentials, both time ranges in UTC and local time, who and
why; the burned-in copy is a re-encoded, clearly named extra file; the key is kept 0600 and
is the same on the next start."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import av
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.evidence.keys import KEY_FILE, load_signing_key
from app.evidence.package import PackageRequest
from app.evidence.verify import verify_package
from app.main import main
from app.schemas import SourceIn
from app.station import build_station, stop_station
from tests.conftest import make_settings
from tests.support.placed_records import place_record

BEGIN = datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)
SECRET = "s3cr3t-pass"


@pytest.fixture(scope="module")
def placed(tmp_path_factory):
    """Two cameras (one with a password in its address), 2 s of footage each at BEGIN."""
    root = tmp_path_factory.mktemp("evidence")
    station = build_station(make_settings(root))
    ids = []
    for name in ("Front door", "Yard"):
        uri = f"rtsp://admin:{SECRET}@127.0.0.1:9/{name[0]}?token=abc" if name == "Yard" \
            else "rtsp://127.0.0.1:9/live"
        ids.append(station.sources.create(SourceIn(name=name, uri_rtsp=uri, enabled=False)).id)
        place_record(station, root, ids[-1], "t", BEGIN)
    yield station, ids
    stop_station(station)


def examiner_check(folder: Path, public_key_b64: str) -> None:
    """What an examiner's own script does: hashlib and cryptography, nothing of the station.
    Raises on any mismatch."""
    body = (folder / "manifest.json").read_bytes()
    signature = base64.b64decode((folder / "manifest.json.sig").read_bytes())
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    key.verify(signature, body)  # InvalidSignature when the manifest was changed
    for entry in json.loads(body)["files"]:
        data = (folder / entry["name"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["name"]
        assert len(data) == entry["size_bytes"], entry["name"]


def _shown(path: Path) -> int:
    """Frames a player shows (the edit list hides those before `begin`)."""
    with av.open(str(path)) as c:
        return sum(1 for f in c.decode(c.streams.video[0]) if f.time is not None and f.time >= 0)


def _package(station, ids, folder: Path, *, as_zip: bool = False, burn_in: bool = False) -> Path:
    request = PackageRequest(ids, BEGIN + timedelta(seconds=0.5), BEGIN + timedelta(seconds=1.5),
                             case_note="Incident 4711: <b>bike</b> taken\nfrom the yard",
                             burn_in=burn_in)
    return station.evidence.export_package(request, folder, who="alice", as_zip=as_zip)


def test_folder_package_verifies_and_states_what_it_holds(placed, tmp_path, capsys):
    station, ids = placed
    folder = tmp_path / "not" / "yet"  # missing: made
    package = _package(station, ids, folder)
    assert package.parent == folder and package.is_dir()
    names = sorted(p.name for p in package.iterdir())
    assert names == sorted(["Front_door_20260301T100000Z.mp4", "Yard_20260301T100000Z.mp4",
                            "manifest.html", "manifest.json", "manifest.json.sig"])
    examiner_check(package, station.evidence.public_key)
    assert verify_package(package).ok
    assert main(["verify", str(package), "--key", station.evidence.public_key]) == 0
    assert "the package is intact and signed" in capsys.readouterr().out

    manifest = json.loads((package / "manifest.json").read_text())
    text = (package / "manifest.json").read_text() + (package / "manifest.html").read_text()
    assert SECRET not in text and "admin" not in text and "abc" not in text
    yard = next(c for c in manifest["cameras"] if c["name"] == "Yard")
    assert yard["address"].startswith("rtsp://127.0.0.1:9/")
    assert manifest["exported"]["by"] == "alice"
    assert manifest["exported"]["case_note"].startswith("Incident 4711: <b>bike</b>")
    assert "&lt;b&gt;bike" in (package / "manifest.html").read_text()  # escaped on the page
    assert manifest["requested"]["begin"]["utc"] == "2026-03-01T10:00:00.500Z"
    local = datetime.fromisoformat(manifest["requested"]["begin"]["local"])
    assert local == BEGIN + timedelta(seconds=0.5) and local.utcoffset() is not None
    actual = yard["actual"]
    assert actual["begin"]["utc"] == "2026-03-01T10:00:00.500Z"
    assert "2026-03-01T10:00:01" in actual["end"]["utc"]
    assert manifest["station"]["public_key"] == station.evidence.public_key
    footage = [f for f in manifest["files"] if f["kind"] == "footage"]
    assert len(footage) == 2 and all(len(f["sha256"]) == 64 for f in footage)


def test_a_flipped_byte_fails_naming_the_file_and_a_changed_manifest_fails_the_signature(
        placed, tmp_path, capsys):
    station, ids = placed
    package = _package(station, ids[:1], tmp_path)
    video = next(package.glob("*.mp4"))
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0x01
    video.write_bytes(bytes(data))
    report = verify_package(package)
    assert not report.ok
    assert [f for f in report.failures() if f.startswith(video.name)]
    assert main(["verify", str(package)]) == 1
    assert f"FAIL {video.name}: SHA-256 or size differs" in capsys.readouterr().out
    # The installed command, as an examiner runs it: its own process, its exit code.
    run = subprocess.run([str(Path(sys.executable).with_name("recording-station")), "verify",
                          str(package)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and f"FAIL {video.name}" in run.stdout
    with pytest.raises(AssertionError, match=video.name):
        examiner_check(package, station.evidence.public_key)

    other = _package(station, ids[:1], tmp_path / "b")
    body = (other / "manifest.json").read_text().replace("alice", "mallory")
    (other / "manifest.json").write_text(body)
    report = verify_package(other)
    assert any(f.startswith("manifest.json.sig: the signature does not match")
               for f in report.failures())
    with pytest.raises(InvalidSignature):
        examiner_check(other, station.evidence.public_key)
    # A package re-signed with another key fails against the station's key.
    assert not verify_package(other, base64.b64encode(b"\x01" * 32).decode()).ok


def test_zip_with_burned_in_copy(placed, tmp_path):
    station, ids = placed
    package = _package(station, ids[1:], tmp_path, as_zip=True, burn_in=True)
    assert package.suffix == ".zip" and [p.name for p in tmp_path.iterdir()] == [package.name]
    assert verify_package(package).ok
    with zipfile.ZipFile(package) as archive:
        archive.extractall(tmp_path / "x")
    (unzipped,) = (tmp_path / "x").iterdir()
    examiner_check(unzipped, station.evidence.public_key)
    burned = unzipped / "Yard_20260301T100000Z-burned-in.mp4"
    original = unzipped / "Yard_20260301T100000Z.mp4"
    assert burned.is_file() and original.is_file()
    assert _shown(burned) == _shown(original) >= 5  # every frame the original shows, 1 s
    kinds = {f["name"]: f["kind"] for f in
             json.loads((unzipped / "manifest.json").read_text())["files"]}
    assert kinds[burned.name] == "burned-in copy" and kinds[original.name] == "footage"


def test_the_key_is_kept_private_and_the_same_next_time(placed, tmp_path):
    station, _ = placed
    where = Path(station.evidence.key.where)
    assert where.name == KEY_FILE and (where.stat().st_mode & 0o777) == 0o600
    again = load_signing_key(where.parent)
    assert again.public_text == station.evidence.public_key
    fresh = load_signing_key(tmp_path / "cfg")
    assert fresh.public_text != station.evidence.public_key
    assert os.stat(tmp_path / "cfg" / KEY_FILE).st_mode & 0o077 == 0
