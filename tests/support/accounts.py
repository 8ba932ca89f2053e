"""User accounts for tests of the other doors (#26): Device Connect applications and MQTT
commands act as an account, so a test that records through them makes one first."""

from __future__ import annotations

DC_OPERATOR = "dc-operator"


def dc_as_operator(station) -> dict:
    """Make the operator account auto-approved Device Connect applications act as; the
    settings to apply (`station.live.replace(station.settings.model_copy(update=...))`)."""
    if station.accounts.get(DC_OPERATOR) is None:
        station.accounts.create(DC_OPERATOR, "a Device Connect test operator", role="operator")
    return {"dc_auto_approve": True, "dc_user": DC_OPERATOR}
