"""Evidence packages: an export an examiner can check without trusting the station.

A package is the cut MP4s (byte-exact stream copies), a manifest (JSON, and an HTML page made
from it) that says what they are — station, cameras, time ranges, who, when, why — with each
file's SHA-256 and size, and a detached Ed25519 signature of the manifest by the station's own
key (`keys`). Checking needs nothing of the station: `hashlib` and `cryptography` (`verify`,
also `recording-station verify <folder-or-zip>`). See docs/evidence.md.
"""
