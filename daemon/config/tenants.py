"""Per-customer settings: ServiceNow mapping, channels, cadence, calendar."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Audience = Literal["technical", "executive", "customer"]


def _cadence(table: dict[str, int]) -> dict[str, int]:
    """Priorities are ServiceNow's 1-5; an interval of 0 would make every incident overdue at once."""
    for priority, minutes in table.items():
        if priority not in {"1", "2", "3", "4", "5"}:
            raise ValueError(f"priority {priority!r}: must be one of 1-5")
        if minutes < 1:
            raise ValueError(f"priority {priority}: {minutes} minutes; at least 1")
    return table


Cadence = Annotated[dict[str, int], AfterValidator(_cadence)]


class Channel(BaseModel):
    """One notification destination of a tenant. `kind` picks the notifier adapter."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    kind: Literal["webhook", "slack", "teams", "email"]
    url: SecretStr | None = Field(None, description="incoming-webhook URL (a secret: it carries its own key)")
    to: list[str] = Field(default_factory=list, description="e-mail recipients")
    smtp_host: str = Field("127.0.0.1", description="e-mail: SMTP relay host")
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    sender: str = Field("micd@localhost", description="e-mail: From address")
    audiences: list[Audience] = Field(
        default_factory=lambda: list[Audience](["technical", "executive"]),
        min_length=1,
        description="which briefings go here: technical, executive, customer",
    )

    @model_validator(mode="after")
    def _destination(self) -> Self:
        """A channel that cannot deliver is refused at load, not discovered when the first update is dropped."""
        if self.kind == "email":
            if not self.to:
                raise ValueError("an email channel needs recipients in `to`")
        elif self.url is None or not self.url.get_secret_value().startswith(("https://", "http://")):
            raise ValueError(f"a {self.kind} channel needs `url`, an http(s) incoming-webhook URL")
        return self


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
    cadence_minutes: Cadence = Field(
        default_factory=dict, description="status-update interval by priority, over command.cadence_minutes"
    )
    review_business_days: int | None = Field(None, ge=1, description="overrides command.review_business_days")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from exc
        return value

    @field_validator("channels")
    @classmethod
    def _unique_names(cls, channels: list[Channel]) -> list[Channel]:
        names = [c.name for c in channels]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"channel names must be unique: {', '.join(twice)}")
        return channels
