"""Who a request or an operation acts as, once a credential was checked: a user with a role
and a scope, and how they came in (a session, a personal token). Carried by the API's
principal, MQTT's configured user and the GUI's signed-in user alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """`groups` None: every source; else the ids of the groups whose sources the user may
    see. `via` is `session` or `token <name>`: the audit trail names both."""

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
