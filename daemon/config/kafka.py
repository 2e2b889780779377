"""Kafka ingestion. Off unless bootstrap_servers and topics are set."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator


class KafkaSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    group_id: str = Field("micd", min_length=1)
    dead_letter_topic: str | None = Field("micd.dead-letter", description="None drops refused records (counted)")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers; the system store if unset")
    ssl_certfile: Path | None = Field(None, description="client certificate (mutual TLS), with ssl_keyfile")
    ssl_keyfile: Path | None = None
    session_timeout_ms: int = Field(10000, gt=0)
    heartbeat_interval_ms: int = Field(3000, gt=0)
    max_in_flight: int = Field(1000, gt=0, description="messages buffered before consumption pauses")

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        if self.dead_letter_topic is not None and self.dead_letter_topic in self.topics:
            # Refused records would come straight back and be refused again, forever.
            raise ValueError("dead_letter_topic must not be one of the consumed topics")
        if self.security_protocol.startswith("SASL_"):
            if self.sasl_mechanism is None:
                raise ValueError(f"sasl_mechanism is required with security_protocol {self.security_protocol}")
            if not self.sasl_username or self.sasl_password is None:
                raise ValueError(f"sasl_username and sasl_password are required with {self.security_protocol}")
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("ssl_certfile and ssl_keyfile go together: set both or neither")
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError("heartbeat_interval_ms must be below session_timeout_ms (a third of it is usual)")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.bootstrap_servers and self.topics)
