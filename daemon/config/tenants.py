"""Per-customer settings: ServiceNow mapping, channels, cadence, calendar."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Channel(BaseModel):
    """One notification destination of a tenant. `kind` picks the notifier adapter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: str = Field(description="webhook | slack | teams | email")
    url: SecretStr | None = Field(None, description="incoming-webhook URL (a secret: it carries its own key)")
    to: list[str] = Field(default_factory=list, description="e-mail recipients")
    smtp_host: str = Field("127.0.0.1", description="e-mail: SMTP relay host")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    sender: str = Field("micd@localhost", description="e-mail: From address")
    audiences: list[str] = Field(
        default_factory=lambda: ["technical", "executive"],
        description="which briefings go here: technical, executive, customer",
    )


class TenantSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    display_name: str = ""
    company: str = Field("", description="ServiceNow company (name or sys_id)")
    assignment_group: str = Field("", description="ServiceNow group that commands this tenant's major incidents")
    commander: str = Field("", description="ServiceNow user proposed as commander")
    channels: list[Channel] = Field(default_factory=list)
    timezone: str = "UTC"
    holidays: list[date] = Field(default_factory=list)
    business_hours: tuple[int, int] = Field((8, 18), description="local hours [start, end) on weekdays")
    cadence_minutes: dict[str, int] = Field(
        default_factory=dict, description="status-update interval by priority, over command.cadence_minutes"
    )
    review_business_days: int | None = Field(None, ge=1, description="overrides command.review_business_days")
