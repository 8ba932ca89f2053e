"""What an evidence package says about itself: the manifest (JSON, signed) and its HTML page.

The manifest is the one statement the signature covers, so everything an examiner relies on
is in it: the station (id, name, version, public key), who exported, when and why, the range
asked for and each camera's actual footage (UTC and the station's local time), each camera's
name and address without credentials, and every other file of the package by name with its
SHA-256 and size (the HTML page included: it is written first, from the same data). File
names are bare names: a package is one flat folder, and a name with a separator or `..` is
refused by the verifier.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

FORMAT = "recording-station evidence package v1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.json.sig"
PAGE = "manifest.html"
HASH_CHUNK = 1 << 20
USER_INFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#]*@")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def without_credentials(masked_uri: str | None) -> str | None:
    """A camera address already masked (`app.redaction.mask_uri`: passwords, secret query
    parameters, stream keys) with its user-info dropped too: a user name is half a
    credential and says nothing about the footage."""
    if not masked_uri:
        return None
    return USER_INFO.sub(r"\1", masked_uri)


def both_times(value: datetime | None) -> dict[str, str | None]:
    """An instant in UTC and in the station's local time (with its offset)."""
    if value is None:
        return {"utc": None, "local": None}
    value = value.astimezone(timezone.utc)
    return {"utc": value.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "local": value.astimezone().isoformat(timespec="milliseconds")}


def readable(value: datetime) -> str:
    """An instant as a person reads it: the station's local time to the millisecond, with
    its zone and offset (`2026-12-07 11:15:04.250 CET +0100`)."""
    local = value.astimezone()
    return (f"{local.strftime('%Y-%m-%d %H:%M:%S')}.{local.microsecond // 1000:03d} "
            f"{local.strftime('%Z %z')}").strip()


@dataclass(frozen=True)
class Camera:
    source_id: int
    name: str
    address: str | None
    file: str
    begin: datetime | None  # the footage the file actually holds (None: cut elsewhere)
    end: datetime | None


def entry(name: str, kind: str, path: Path, source_id: int | None = None) -> dict:
    """A file of the package as the manifest lists it (`kind`: footage, burned-in copy,
    manifest page), hashed from where its bytes are now (`path`, under any name)."""
    return {"name": name, "kind": kind, "source_id": source_id, "sha256": sha256_of(path),
            "size_bytes": path.stat().st_size}


def entry_of_bytes(name: str, kind: str, data: bytes) -> dict:
    return {"name": name, "kind": kind, "source_id": None,
            "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)}


def build(*, station: dict, who: str, via: str, case_note: str, exported_at: datetime,
          begin: datetime, end: datetime, cameras: list[Camera], files: list[dict]) -> dict:
    """The manifest: the statements, and `files` (made by `entry`)."""
    return {
        "format": FORMAT,
        "station": station,
        "exported": {"by": who, "via": via, "at": both_times(exported_at),
                     "local_time_zone": exported_at.astimezone().tzname(),
                     "case_note": case_note},
        "requested": {"begin": both_times(begin), "end": both_times(end)},
        "cameras": [{"source_id": c.source_id, "name": c.name, "address": c.address,
                     "file": c.file, "actual": {"begin": both_times(c.begin),
                                                "end": both_times(c.end)}}
                    for c in cameras],
        "files": files,
    }


def encode(manifest: dict) -> bytes:
    """The bytes written and signed (the signature is of the file as it is, not of a
    re-serialisation: an examiner hashes what they received)."""
    return (json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()


def page(*, station: dict, who: str, via: str, case_note: str, exported_at: datetime,
         begin: datetime, end: datetime, cameras: list[Camera],
         footage: list[tuple[str, str, int]]) -> str:
    """The human-readable page: the same statements as the manifest (`footage`: name,
    SHA-256, size of each video file). Everything from outside is escaped."""
    e = html.escape

    def when(value: datetime | None) -> str:
        if value is None:
            return "—"
        return f"{e(readable(value))}<br><small>{e(both_times(value)['utc'] or '')}</small>"

    rows = "".join(
        f"<tr><td>{e(c.name)} <small>({c.source_id})</small></td>"
        f"<td><code>{e(c.address or '—')}</code></td><td>{when(c.begin)}</td>"
        f"<td>{when(c.end)}</td><td><code>{e(c.file)}</code></td></tr>" for c in cameras)
    files = "".join(f"<tr><td><code>{e(name)}</code></td><td>{size:,}</td>"
                    f"<td><code class='hash'>{e(digest)}</code></td></tr>"
                    for name, digest, size in footage)
    note = e(case_note).replace("\n", "<br>") if case_note else "<i>none given</i>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Evidence package — {e(station['name'])}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #111; }}
h1 {{ font-size: 1.4em; margin-bottom: 0.2em; }}
h2 {{ font-size: 1.1em; margin-top: 1.4em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #bbb; padding: 4px 8px; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
small {{ color: #555; }}
.hash {{ font-size: 0.85em; word-break: break-all; }}
.key {{ font-size: 0.9em; }}
</style></head><body>
<h1>Evidence package</h1>
<p>Exported from station <b>{e(station['name'])}</b> <small>({e(station['id'])},
version {e(station['version'])})</small> by <b>{e(who)}</b> <small>({e(via)})</small>
on {e(readable(exported_at))} <small>({e(both_times(exported_at)['utc'] or '')})</small>.</p>
<h2>Case note</h2><p>{note}</p>
<h2>Time range requested</h2>
<table><tr><th>From</th><td>{when(begin)}</td></tr><tr><th>To</th><td>{when(end)}</td></tr></table>
<h2>Cameras</h2>
<table><tr><th>Camera</th><th>Address</th><th>Footage from</th><th>Footage to</th><th>File</th></tr>
{rows}</table>
<h2>Files</h2>
<table><tr><th>File</th><th>Bytes</th><th>SHA-256</th></tr>{files}</table>
<h2>How to check it</h2>
<p><code>{MANIFEST}</code> lists every file of this package with its SHA-256;
<code>{SIGNATURE}</code> is the base64 Ed25519 signature of <code>{MANIFEST}</code> as stored,
made with the station's key:</p>
<p class="key">public key <code>{e(station['public_key'])}</code><br>
fingerprint <code>{e(station['public_key_fingerprint'])}</code></p>
<p>Compare that key with the one the station shows (Settings, or <code>GET /api/v1/station</code>),
then run <code>recording-station verify &lt;this folder or zip&gt;</code>, or check the hashes and
the signature with any SHA-256 and Ed25519 tool. The videos are byte-exact copies of the
recording; a file named <code>*-burned-in.mp4</code> is a re-encoded copy with the camera name
and time drawn into the picture.</p>
</body></html>
"""


def b64(signature: bytes) -> bytes:
    """A detached signature file's content: base64 of the 64 signature bytes, one line."""
    return base64.b64encode(signature) + b"\n"
