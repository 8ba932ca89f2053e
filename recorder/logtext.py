"""Untrusted text in the log, one record to a line: a request path, a header, a source name,
a camera's or a broker's words may carry a line break (`%0A` in a path decodes to one) and
would otherwise write a forged line ("... WARNING api.security: auth refused ...") that a
reader or a log collector takes for the station's own.

`escaped` is the one escaping rule: every character that is not printable (control
characters, CR/LF, NEL U+0085, the line and paragraph separators U+2028/U+2029, format
characters such as the bidi override U+202E or zero-width spaces) becomes its Python escape
(`\\n`, `\\x85`, `\\u202e`). `OneLineFormatter` applies it to every message at the sink, so no
call site can forget it, and indents every line of a traceback, so only the station's own
records start at the left margin, with their time.

It lives in the recorder (a leaf) because the recorder's log lines quote cameras too; the
front ends reach it through `app.redaction`.
"""

from __future__ import annotations

import logging


def escaped(value: object) -> str:
    """`value` as one printable line: each non-printable character as its escape."""
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)


def _indented(block: str) -> str:
    """A traceback or stack, each line indented by two spaces and escaped (an exception's
    message is often the caller's text): only the records' own lines start at the margin."""
    lines = block.splitlines()  # splits at every line break Python knows, NEL and U+2028 too
    return "\n".join("  " + escaped(line) for line in lines)


class OneLineFormatter(logging.Formatter):
    """A formatter for the station's log handlers: the message on one line, escaped; an
    exception's traceback below it with its continuation lines indented."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escaped(record.message)
        return super().formatMessage(record)

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return _indented(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:  # noqa: N802 - logging's name
        return _indented(super().formatStack(stack_info))
