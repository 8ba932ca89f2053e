"""Secrets out of text meant for people, for the front ends: the access log, error texts.

The rules live in `recorder.redact` because the recorder masks its own log lines and error
texts (FFmpeg quotes the URL it failed to open) and may not import the core; this module is
the same masking under the core's name, so `ui` and `api` never import `recorder` (an
import-linter contract in pyproject.toml) and a credential form added there is hidden
everywhere at once.
"""

from recorder.redact import MASK, is_secret_param, mask_uri, redact

__all__ = ["MASK", "is_secret_param", "mask_uri", "redact"]
