"""ServiceNow connection and delivery policy. On when `instance` is set."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator


class ServiceNowSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    instance: str | None = Field(None, description="https URL of the instance; unset keeps proposals in micd")
    username: str = ""
    password: SecretStr | None = None
    password_file: Path | None = None
    ca_bundle: Path | None = Field(None, description="CA file for the instance; wins over REQUESTS_CA_BUNDLE")
    poll_interval: float = Field(30.0, gt=0, description="seconds between polls of open proposals")
    timeout: float = Field(10.0, gt=0, description="seconds to connect and to wait for each answer")
    attempts: int = Field(3, ge=1, le=10, description="tries per delivery before it goes back to the outbox")
    backoff_initial: float = Field(1.0, gt=0, description="seconds before the first retry; doubles each time")
    backoff_max: float = Field(300.0, gt=0, description="longest wait between tries, and the longest Retry-After")
    breaker_failures: int = Field(5, ge=1, description="consecutive failed tries that open the circuit")
    breaker_reset: float = Field(30.0, gt=0, description="seconds the circuit stays open before one probe")
    delivery_interval: float = Field(1.0, gt=0, description="seconds between looks at the outbox")

    @field_validator("instance")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// URL (pysnc refuses plain http)")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _credentials(self) -> ServiceNowSettings:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set servicenow.password or servicenow.password_file, not both")
        return self

    @property
    def enabled(self) -> bool:
        return self.instance is not None
