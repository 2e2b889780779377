"""Security settings to aiokafka arguments; TLS contexts built from real certificate files."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme

from daemon.config.kafka import KafkaSettings
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
            security_protocol="sasl_ssl",
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
    ("values", "names"),
    [
        ({"security_protocol": "TLS"}, "kafka.security_protocol"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_username": "u", "sasl_password": "p"}, "kafka.sasl_mechanism"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "GSSAPI"}, "kafka.sasl_mechanism"),
        (
            {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u"},
            "kafka.sasl_password",
        ),
        ({"security_protocol": "SSL", "ssl_certfile": Path("/nonexistent.pem")}, "kafka.ssl_keyfile"),
        ({"security_protocol": "SSL", "ssl_cafile": Path("/nonexistent/ca.pem")}, "TLS files"),
    ],
)
def test_refused_settings_name_the_key(values: dict[str, Any], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        client_options(settings(**values))


def test_the_password_never_appears_in_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        client_options(settings(security_protocol="SASL_SSL", sasl_mechanism="PLAIN", sasl_password="hunter2"))
    assert "hunter2" not in str(caught.value)
