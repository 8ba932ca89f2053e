"""Secrets and hostile characters out of text meant for people, for the front ends: the
access log, error texts, every log line.

The rules live in the recorder (`recorder.redact`: where a URI carries a credential;
`recorder.logtext`: how untrusted text is escaped in the log) because the recorder masks its
own log lines and error texts (FFmpeg quotes the URL it failed to open) and may not import
the core; this module is the same under the core's name, so `ui` and `api` never import
`recorder` (an import-linter contract in pyproject.toml) and a rule added there applies
everywhere at once.
"""

from recorder.logtext import OneLineFormatter, escaped
from recorder.redact import MASK, is_secret_param, mask_uri, redact

__all__ = ["MASK", "OneLineFormatter", "escaped", "is_secret_param", "mask_uri", "redact"]
