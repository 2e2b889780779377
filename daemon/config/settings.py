"""The effective settings: environment (MICD_*, nested with __) over the YAML file over defaults."""

from __future__ import annotations

import ipaddress
import os
import re
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from daemon.config.auth import AuthSettings
from daemon.config.command import CommandSettings
from daemon.config.correlation import CorrelationSettings
from daemon.config.kafka import KafkaSettings
from daemon.config.kpi import KpiSettings
from daemon.config.servicenow import ServiceNowSettings
from daemon.config.tenants import TenantSettings
from daemon.kernel.errors import ConfigError, FieldProblem

TENANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Limits(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_body_bytes: int = Field(5 * 1024 * 1024, gt=0)
    max_alerts_per_request: int = Field(10_000, gt=0)


class LogSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    level: str = Field("INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MICD_", env_nested_delimiter="__", extra="forbid", frozen=True)

    listen: str = Field("127.0.0.1:9095", description="host:port the HTTP server binds")
    public_url: str = Field("", description="how people reach micd; links in tickets point here")
    database: str = Field("sqlite:///./var/micd.sqlite3", description="sqlite:///relative or sqlite:////absolute")
    rules_dir: Path = Path("rules/")
    tenant_label: str = "tenant"
    auth: AuthSettings = AuthSettings()
    limits: Limits = Limits()
    log: LogSettings = LogSettings()
    tenants: dict[str, TenantSettings] = Field(default_factory=dict)
    correlation: CorrelationSettings = CorrelationSettings()
    servicenow: ServiceNowSettings = ServiceNowSettings()
    kafka: KafkaSettings = KafkaSettings()
    command: CommandSettings = CommandSettings()
    kpi: KpiSettings = KpiSettings()

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, for example 127.0.0.1:9095")
        return value

    @field_validator("database")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith("sqlite:///"):
            raise ValueError("only sqlite:///PATH is supported in this release")
        return value

    @field_validator("tenants")
    @classmethod
    def _tenant_ids(cls, value: dict[str, TenantSettings]) -> dict[str, TenantSettings]:
        import re

        for name in value:
            if not re.match(TENANT_PATTERN, name):
                raise ValueError(f"tenant id {name!r} must match {TENANT_PATTERN}")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def loopback_only(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database.removeprefix("sqlite:///"))

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.listen}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init_settings carries the YAML file (see load); env wins over it.
        return (env_settings, init_settings)


def load(path: Path | None = None) -> Settings:
    """Read settings; every problem is a ConfigError naming the key and the reason."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of settings")
        data = loaded
    try:
        return Settings(**data)
    except SettingsError as exc:
        raise _environment_error(exc) from exc
    except ValidationError as exc:
        problems = tuple(
            FieldProblem(".".join(str(p) for p in err["loc"]) or "(root)", err["msg"]) for err in exc.errors()
        )
        summary = "; ".join(f"{p.field}: {p.reason}" for p in problems)
        raise ConfigError(f"invalid settings: {summary}", problems=problems) from exc


def _environment_error(exc: SettingsError) -> ConfigError:
    """pydantic-settings names only the top-level field whose MICD_* variable did not parse: name the variables."""
    found = re.search(r'field "([^"]+)"', str(exc))
    key = found.group(1) if found else "(environment)"
    prefix = f"MICD_{key.upper()}"
    names = sorted(n for n in os.environ if n.upper() == prefix or n.upper().startswith(prefix + "__"))
    cause = f": {exc.__cause__}" if exc.__cause__ else ""
    reason = (
        f"{' or '.join(names) or prefix} is not valid JSON{cause} (lists and mappings are given as JSON, "
        f'e.g. MICD_AUTH__API_TOKENS=\'[{{"name": "ops", "sha256": "...", "role": "admin"}}]\')'
    )
    return ConfigError(f"invalid settings: {key}: {reason}", problems=(FieldProblem(key, reason),))


def masked(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with every secret replaced, for `micd config show`."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "********" if value.get_secret_value() else ""
        if isinstance(value, Enum):
            return value.value
        if isinstance(value, BaseModel):
            return {k: walk(getattr(value, k)) for k in type(value).model_fields}
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value

    return {k: walk(v) for k, v in walk(settings).items()}
