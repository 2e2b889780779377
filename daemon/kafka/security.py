"""KafkaSettings security options as the keyword arguments aiokafka's consumer and producer both take."""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from daemon.config.kafka import KafkaSettings
from daemon.kernel.errors import ConfigError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    """Verifies the broker against ssl_cafile (or the system store); presents a client certificate if given."""
    if (settings.ssl_certfile is None) != (settings.ssl_keyfile is None):
        raise ConfigError("kafka.ssl_certfile and kafka.ssl_keyfile go together: set both or neither")
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=settings.ssl_cafile, certfile=settings.ssl_certfile, keyfile=settings.ssl_keyfile
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"kafka TLS files cannot be loaded: {exc}") from exc
    return context


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Connection and security arguments; a ConfigError names the setting that is wrong."""
    protocol = settings.security_protocol.upper()
    if protocol not in PROTOCOLS:
        raise ConfigError(f"kafka.security_protocol must be one of {', '.join(PROTOCOLS)}")
    options: dict[str, Any] = {
        "bootstrap_servers": list(settings.bootstrap_servers),
        "security_protocol": protocol,
        "client_id": "micd",
    }
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    if protocol.startswith("SASL_"):
        mechanism = (settings.sasl_mechanism or "").upper()
        if mechanism not in MECHANISMS:
            raise ConfigError(f"kafka.sasl_mechanism must be one of {', '.join(MECHANISMS)} with {protocol}")
        if not settings.sasl_username or settings.sasl_password is None:
            raise ConfigError(f"kafka.sasl_username and kafka.sasl_password are required with {protocol}")
        options["sasl_mechanism"] = mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return options
