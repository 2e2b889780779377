"""ServiceNow connection. On when `instance` is set."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class ServiceNowSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    instance: str | None = Field(None, description="https URL of the instance; unset keeps proposals in micd")
    username: str = ""
    password: SecretStr | None = None
    password_file: Path | None = None
    ca_bundle: Path | None = None
    poll_interval: float = Field(30.0, gt=0, description="seconds between polls of open proposals")

    @field_validator("instance")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// URL (pysnc refuses plain http)")
        return value.rstrip("/") if value else value

    @property
    def enabled(self) -> bool:
        return self.instance is not None
