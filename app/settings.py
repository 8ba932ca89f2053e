"""Station settings from four places, strongest first: CLI flags, `RS_*` environment
variables, the config file in the platformdirs config folder, built-in defaults.

The data folder holds both the catalog and the recordings, so `--data-dir` alone gives a
self-contained station (what tests and scripts rely on).
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from app import APP_NAME


def default_config_file() -> Path:
    override = os.environ.get("RS_CONFIG_FILE")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class Settings(BaseSettings):
    """Everything the station needs to start; immutable once built."""

    model_config = SettingsConfigDict(env_prefix="RS_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(4035, ge=0, le=65535)
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    storage_dir: Path | None = None
    database_url: str | None = None
    token: str | None = None
    headless: bool = False
    demo: bool = True
    station_name: str = "Recording Station"
    disk_floor_mb: int = Field(500, ge=0)
    log_level: str = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=default_config_file())
        return (init_settings, env_settings, toml)

    @model_validator(mode="after")
    def _derive_paths(self) -> "Settings":
        data_dir = self.data_dir.expanduser().resolve()
        object.__setattr__(self, "data_dir", data_dir)
        if self.storage_dir is None:
            object.__setattr__(self, "storage_dir", data_dir / "recordings")
        else:
            object.__setattr__(self, "storage_dir", self.storage_dir.expanduser().resolve())
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir / 'catalog.sqlite3'}")
        if not self.is_loopback and not self.token:
            raise ValueError(
                f"the API binds to {self.host}, which is not a loopback address: "
                "set a token (RS_TOKEN or token in the config file) or bind to 127.0.0.1"
            )
        return self

    @property
    def is_loopback(self) -> bool:
        if self.host in ("localhost", ""):
            return self.host == "localhost"
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def recordings_dir(self) -> Path:
        assert self.storage_dir is not None
        return self.storage_dir


def load_settings(**overrides: Any) -> Settings:
    """Build settings; `overrides` are CLI flags (None means "not given")."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)
