"""Who an operation acts for, once a credential was checked, and how that travels.

`Identity`: a user with a role and a scope, and how they came in (a session, a personal token,
an AK/SK, MQTT's configured user, a Device Connect application, another station). Carried by
the API's principal, MQTT's configured user and the GUI's signed-in user alike.

`ACTING`: the user an operation acts for, as it travels from a front end into the services and
on to another station of the site. The API's guard, the MQTT bridge and the GUI set it
(`acting_as`) around the calls they make for a user; it follows the call into worker threads
(asyncio's `to_thread` and the API's lanes copy it; the site client's fan-out does too). When
the site client forwards a request to another station, it adds `acting_user=<id>` to the path
it signs (`acting_path`), so the owner station knows for whom it acts, cannot be told otherwise
(the path is under the station signature, with its time window and nonce), and applies that
user's role and scope from the shared catalog.

A foundation module (no catalog, no services): every room may carry an identity; the rules
about it live in `app.accounts`.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator

QUERY = "acting_user"


@dataclass(frozen=True)
class Identity:
    """`groups` None: every source; else the ids of the groups whose sources the user may
    see. `via` is `session`, `token <name>`, `ak <AK>` ...: the audit trail names both."""

    user_id: int
    name: str
    role: str
    groups: tuple[int, ...] | None
    via: str = "session"
    token_id: int | None = None

    @property
    def who(self) -> str:
        """The audit trail's and the logs' name for the caller (never a secret)."""
        return self.name if self.via == "session" else f"{self.name} ({self.via})"


ACTING: ContextVar[Identity | None] = ContextVar("acting_user", default=None)


def current() -> Identity | None:
    return ACTING.get()


@contextmanager
def acting_as(identity: Identity | None) -> Iterator[None]:
    token = ACTING.set(identity)
    try:
        yield
    finally:
        ACTING.reset(token)


def acting_path(path_qs: str) -> str:
    """`path_qs` with the acting user's id, when there is one (to sign and send)."""
    identity = ACTING.get()
    if identity is None:
        return path_qs
    return f"{path_qs}{'&' if '?' in path_qs else '?'}{QUERY}={identity.user_id}"
