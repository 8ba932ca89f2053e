"""Check an evidence package, folder or zip: every listed file's SHA-256 and size, and the
manifest's Ed25519 signature. What `recording-station verify` prints.

Only `hashlib`, `json`, `zipfile` and `cryptography`: what an examiner's own script would use,
so this module is also the reference for one (docs/evidence.md). The signature proves the
manifest was signed by the key stated in it; that it is *the station's* key is what the
examiner compares with the key the station shows (Settings, `GET /api/v1/station`) or passes
in (`--key`): then a package re-signed with another key fails.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from app.evidence.keys import key_fingerprint
from app.evidence.manifest import HASH_CHUNK, MANIFEST, SIGNATURE

Opener = Callable[[str], BinaryIO]


@dataclass
class Report:
    """Each check with its outcome; `ok` only when every one held."""

    lines: list[tuple[bool, str]] = field(default_factory=list)

    def add(self, ok: bool, text: str) -> None:
        self.lines.append((ok, text))

    @property
    def ok(self) -> bool:
        return bool(self.lines) and all(ok for ok, _ in self.lines)

    def failures(self) -> list[str]:
        return [text for ok, text in self.lines if not ok]

    def text(self) -> str:
        body = "\n".join(f"{'OK  ' if ok else 'FAIL'} {text}" for ok, text in self.lines)
        verdict = ("the package is intact and signed" if self.ok
                   else f"the package does NOT verify ({len(self.failures())} failure(s))")
        return f"{body}\n{verdict}"


def _safe(name: object) -> bool:
    """A bare file name of the package (no folder, no `..`, nothing hidden in it)."""
    return (isinstance(name, str) and bool(name) and "/" not in name and "\\" not in name
            and name not in (".", "..") and "\0" not in name)


def _hash(open_file: Opener, name: str) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open_file(name) as file:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_package(path: Path, public_key: str | None = None) -> Report:
    """Verify the package at `path` (its folder, or its zip). `public_key`: the station's
    key as it shows it (base64 of the raw 32 bytes); without it, the key the manifest
    names is used and the report says so."""
    if path.is_dir():
        names = {p.name for p in path.iterdir() if p.is_file()}
        return _verify(lambda name: open(path / name, "rb"), names, public_key)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report = Report()
        report.add(False, f"{path}: neither a package folder nor a zip ({exc})")
        return report
    with archive:
        members = [m for m in archive.namelist() if not m.endswith("/")]
        manifests = [m for m in members if PurePosixPath(m).name == MANIFEST
                     and len(PurePosixPath(m).parts) <= 2]
        prefix = str(PurePosixPath(manifests[0]).parent) + "/" if manifests else ""
        prefix = "" if prefix == "./" else prefix
        names = {m[len(prefix):] for m in members if m.startswith(prefix)
                 and "/" not in m[len(prefix):]}
        return _verify(lambda name: archive.open(prefix + name), names, public_key)


def _verify(open_file: Opener, names: set[str], pinned: str | None) -> Report:
    report = Report()
    if MANIFEST not in names:
        report.add(False, f"{MANIFEST}: missing")
        return report
    with open_file(MANIFEST) as file:
        manifest_bytes = file.read()
    try:
        manifest = json.loads(manifest_bytes)
        station = manifest["station"]
        listed = manifest["files"]
        stated = station["public_key"]
    except (ValueError, KeyError, TypeError):
        report.add(False, f"{MANIFEST}: not a manifest of an evidence package")
        return report
    _check_signature(report, open_file, names, manifest_bytes, stated, pinned)
    seen = {MANIFEST, SIGNATURE}
    for entry in listed if isinstance(listed, list) else []:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not _safe(name):
            report.add(False, f"{name!r}: not a file name of a package")
            continue
        seen.add(name)
        if name not in names:
            report.add(False, f"{name}: missing")
            continue
        digest, size = _hash(open_file, name)
        if digest != entry.get("sha256") or size != entry.get("size_bytes"):
            report.add(False, f"{name}: SHA-256 or size differs from the manifest (the file "
                       f"was changed: {size} bytes, SHA-256 {digest})")
        else:
            report.add(True, f"{name}: SHA-256 {digest}, {size} bytes")
    for extra in sorted(names - seen):
        report.add(True, f"{extra}: not listed in the manifest (not covered by the signature)")
    return report


def _check_signature(report: Report, open_file: Opener, names: set[str], manifest_bytes: bytes,
                     stated: str, pinned: str | None) -> None:
    key_text = pinned or stated
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_text, validate=True))
    except (ValueError, binascii.Error, TypeError):
        report.add(False, "public key: not an Ed25519 key")
        return
    if pinned is not None and pinned != stated:
        report.add(False, f"public key: the manifest names key {key_fingerprint(stated)}, "
                   f"not the station's {key_fingerprint(pinned)}")
    if SIGNATURE not in names:
        report.add(False, f"{SIGNATURE}: missing")
        return
    with open_file(SIGNATURE) as file:
        try:
            signature = base64.b64decode(file.read().strip(), validate=True)
        except (ValueError, binascii.Error):
            signature = b""
    try:
        key.verify(signature, manifest_bytes)
    except InvalidSignature:
        report.add(False, f"{SIGNATURE}: the signature does not match {MANIFEST} (the "
                   "manifest was changed, or signed by another key)")
        return
    whose = ("the station's key given" if pinned is not None
             else "the key the manifest names (compare it with the station's)")
    report.add(True, f"{SIGNATURE}: {MANIFEST} signed by {whose}, fingerprint "
               f"{key_fingerprint(key_text)}")


def run(argv: list[str]) -> int:
    """`recording-station verify <folder-or-zip> [--key KEY]`: 0 when every check held."""
    parser = argparse.ArgumentParser(
        prog="recording-station verify",
        description="Check an evidence package: every file's SHA-256 and the signature.")
    parser.add_argument("package", type=Path, help="the package's folder or its zip")
    parser.add_argument("--key", help="the station's public key as it shows it (base64): "
                        "without it, the key named in the manifest is checked against")
    args = parser.parse_args(argv)
    if not args.package.exists():
        print(f"recording-station verify: {args.package}: no such file or folder")
        return 2
    report = verify_package(args.package, args.key)
    print(report.text())
    return 0 if report.ok else 1
