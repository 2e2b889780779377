"""KafkaSettings security options as the keyword arguments aiokafka's consumer and producer both take.

The settings model has already checked that the options fit together; what is left to fail is loading files.
"""

from __future__ import annotations

import ssl
from typing import Any

from aiokafka.helpers import create_ssl_context

from daemon.config.kafka import KafkaSettings
from daemon.kernel.errors import ConfigError


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    """Verifies the broker against ssl_cafile (or the system store); presents a client certificate if given."""
    try:
        context: ssl.SSLContext = create_ssl_context(
            cafile=settings.ssl_cafile, certfile=settings.ssl_certfile, keyfile=settings.ssl_keyfile
        )
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"kafka.ssl_cafile/ssl_certfile/ssl_keyfile: TLS files cannot be loaded: {exc}") from exc
    return context


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Connection and security arguments for AIOKafkaConsumer and AIOKafkaProducer."""
    options: dict[str, Any] = {
        "bootstrap_servers": list(settings.bootstrap_servers),
        "security_protocol": settings.security_protocol,
        "client_id": "micd",
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    if settings.security_protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        assert settings.sasl_password is not None  # the settings model requires it with SASL
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password.get_secret_value()
    return options
