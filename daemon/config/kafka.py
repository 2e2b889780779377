"""Kafka ingestion. Off unless bootstrap_servers and topics are set."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class KafkaSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    group_id: str = "micd"
    dead_letter_topic: str | None = "micd.dead-letter"
    security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL")
    sasl_mechanism: str | None = Field(None, description="PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512")
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    session_timeout_ms: int = 10000
    heartbeat_interval_ms: int = 3000
    max_in_flight: int = Field(1000, gt=0, description="messages buffered before consumption pauses")

    @property
    def enabled(self) -> bool:
        return bool(self.bootstrap_servers and self.topics)
