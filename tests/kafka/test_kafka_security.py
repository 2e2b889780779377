"""Security settings to aiokafka arguments; TLS contexts built from real certificate files."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml

from daemon.config.kafka import KafkaSettings
from daemon.config.settings import load
from daemon.kafka.security import client_options
from daemon.kernel.errors import ConfigError


def settings(**values: Any) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=["127.0.0.1:9093"], topics=["alerts"], **values)


@pytest.fixture
def pki(tmp_path: Path) -> dict[str, Path]:
    ca = trustme.CA()
    client = ca.issue_cert("micd.local")
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "cert.pem", "key": tmp_path / "key.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    client.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    return files


def test_plaintext_has_no_security_arguments() -> None:
    options = client_options(settings())
    assert options == {"bootstrap_servers": ["127.0.0.1:9093"], "security_protocol": "PLAINTEXT", "client_id": "micd"}


def test_ssl_with_ca_and_client_certificate(pki: dict[str, Path]) -> None:
    options = client_options(
        settings(security_protocol="SSL", ssl_cafile=pki["ca"], ssl_certfile=pki["cert"], ssl_keyfile=pki["key"])
    )
    context = options["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs()  # our CA, not just the system store


def test_sasl_ssl_scram(pki: dict[str, Path]) -> None:
    options = client_options(
        settings(
            security_protocol="SASL_SSL",
            sasl_mechanism="SCRAM-SHA-512",
            sasl_username="micd",
            sasl_password="s3cret",
            ssl_cafile=pki["ca"],
        )
    )
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("micd", "s3cret")
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_sasl_plaintext_has_no_tls() -> None:
    options = client_options(
        settings(security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p")
    )
    assert "ssl_context" not in options
    assert options["sasl_mechanism"] == "PLAIN"


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"security_protocol": "TLS"}, "security_protocol"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_username": "u", "sasl_password": "p"}, "sasl_mechanism"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u"}, "sasl_password"),
        ({"security_protocol": "SSL", "ssl_certfile": "/x/cert.pem"}, "ssl_keyfile"),
        ({"dead_letter_topic": "alerts"}, "dead_letter_topic"),
        ({"heartbeat_interval_ms": 10000, "session_timeout_ms": 6000}, "heartbeat_interval_ms"),
    ],
)
def test_inconsistent_settings_are_refused_at_load_naming_the_key(
    tmp_path: Path, values: dict[str, Any], reason: str
) -> None:
    config = tmp_path / "micd.yaml"
    config.write_text(
        yaml.safe_dump({"kafka": {"bootstrap_servers": ["127.0.0.1:9093"], "topics": ["alerts"], **values}})
    )
    with pytest.raises(ConfigError) as caught:
        load(config)
    assert any(p.field.startswith("kafka") and reason in f"{p.field} {p.reason}" for p in caught.value.problems)


def test_unreadable_tls_files_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="TLS files cannot be loaded"):
        client_options(settings(security_protocol="SSL", ssl_cafile=Path("/nonexistent/ca.pem")))


def test_the_password_never_appears_in_errors(tmp_path: Path) -> None:
    config = tmp_path / "micd.yaml"
    config.write_text(yaml.safe_dump({"kafka": {"security_protocol": "SASL_SSL", "sasl_password": "hunter2"}}))
    with pytest.raises(ConfigError) as caught:
        load(config)
    assert "hunter2" not in str(caught.value)
