"""Settings precedence (env > file > defaults), clear errors, masked secrets."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from daemon.config.settings import load
from daemon.kernel.errors import ConfigError
from tests.support.procs import MICD, free_port


def test_defaults() -> None:
    s = load(None)
    assert s.listen == "127.0.0.1:9095"
    assert s.database == "sqlite:///./var/micd.sqlite3"
    assert s.sqlite_path == Path("./var/micd.sqlite3")
    assert s.tenant_label == "tenant"
    assert s.loopback_only


def test_env_beats_file_beats_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "micd.yaml"
    f.write_text("listen: 127.0.0.1:7000\ntenant_label: customer\nservicenow:\n  instance: https://file.example\n")
    assert load(f).listen == "127.0.0.1:7000"
    monkeypatch.setenv("MICD_LISTEN", "127.0.0.1:8000")
    monkeypatch.setenv("MICD_SERVICENOW__INSTANCE", "https://env.example")
    s = load(f)
    assert (s.listen, s.tenant_label, s.servicenow.instance) == ("127.0.0.1:8000", "customer", "https://env.example")
    assert load(None).database == "sqlite:///./var/micd.sqlite3"


def test_absolute_sqlite_path() -> None:
    assert load(None).model_copy(update={"database": "sqlite:////var/lib/micd/db"}).sqlite_path == Path(
        "/var/lib/micd/db"
    )


CHANNEL = "tenants:\n  acme:\n    channels:\n      - {{name: war-room, {}}}\n"
CHANNEL_AT = "tenants.acme.channels.0"


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("listen: nowhere\n", "listen"),
        ("servicenow:\n  instance: http://plain.example\n", "servicenow.instance"),
        ("auth:\n  api_tokens:\n    - {name: x, sha256: short, role: viewer}\n", "auth.api_tokens.0.sha256"),
        ("auth:\n  api_tokens:\n    - {name: x, sha256: " + "a" * 64 + ", role: god}\n", "auth.api_tokens.0.role"),
        ("limits:\n  max_body_bytes: -1\n", "limits.max_body_bytes"),
        ("no_such_key: 1\n", "no_such_key"),
        (CHANNEL.format("kind: slak, url: 'https://hooks.example/x'"), "tenants.acme.channels.0.kind"),
        (CHANNEL.format("kind: slack, url: 'https://h.example/x', audiences: [ops]"), CHANNEL_AT + ".audiences.0"),
        (CHANNEL.format("kind: email, to: []"), CHANNEL_AT),
        (CHANNEL.format("kind: teams"), CHANNEL_AT),
        ("tenants:\n  acme:\n    cadence_minutes: {'1': 0}\n", "tenants.acme.cadence_minutes"),
        ("command:\n  cadence_minutes: {'P1': 30}\n", "command.cadence_minutes"),
        ("tenants:\n  acme:\n    timezone: Mars/Olympus\n", "tenants.acme.timezone"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, yaml_text: str, key: str) -> None:
    f = tmp_path / "micd.yaml"
    f.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load(f)
    assert key in [p.field for p in info.value.problems]


def test_cli_check_and_show(tmp_path: Path) -> None:
    f = tmp_path / "micd.yaml"
    f.write_text("servicenow:\n  instance: https://acme.service-now.example\n  password: hunter2-secret\n")
    show = subprocess.run([*MICD, "config", "show", "--config", str(f)], capture_output=True, text=True, check=True)
    assert "hunter2-secret" not in show.stdout
    assert "password: '********'" in show.stdout
    ok = subprocess.run([*MICD, "config", "check", "--config", str(f)], capture_output=True, text=True, check=False)
    assert ok.returncode == 0
    f.write_text("listen: 127.0.0.1:99999\n")
    bad = subprocess.run([*MICD, "config", "check", "--config", str(f)], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert "invalid setting listen: " in bad.stderr
    bad = subprocess.run(
        [*MICD, "config", "check", "--config", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "cannot read" in bad.stderr


def test_show_with_tokens_and_a_bad_environment_value(tmp_path: Path) -> None:
    f = tmp_path / "micd.yaml"
    f.write_text(f"auth:\n  api_tokens:\n    - {{name: ops, sha256: '{'a' * 64}', role: commander}}\n")
    show = subprocess.run([*MICD, "config", "show", "--config", str(f)], capture_output=True, text=True, check=False)
    assert show.returncode == 0, show.stderr
    assert "role: commander" in show.stdout
    env = {**os.environ, "MICD_AUTH__API_TOKENS": "not json"}
    bad = subprocess.run([*MICD, "config", "check"], capture_output=True, text=True, check=False, env=env)
    assert bad.returncode == 2
    assert bad.stderr.startswith("invalid setting auth: MICD_AUTH__API_TOKENS is not valid JSON"), bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ("rules_dir: no-such-rules", "invalid setting rules_dir: no-such-rules is not a directory"),
        ("database: sqlite:////proc/no/such.db", "invalid setting database: cannot create /proc/no/such.db"),
    ],
)
def test_serve_refuses_settings_that_do_not_work_here(tmp_path: Path, setting: str, says: str) -> None:
    f = tmp_path / "micd.yaml"
    f.write_text(f"listen: 127.0.0.1:{free_port()}\ndatabase: sqlite:///{tmp_path / 'db.sqlite3'}\n{setting}\n")
    run = subprocess.run(
        [*MICD, "serve", "--config", str(f)], capture_output=True, text=True, check=False, cwd=tmp_path, timeout=60
    )
    assert run.returncode == 2
    assert says in run.stderr
    assert "Traceback" not in run.stderr


def test_serve_names_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        f = tmp_path / "micd.yaml"
        rules = Path(__file__).resolve().parents[2] / "rules"
        f.write_text(f"listen: 127.0.0.1:{port}\ndatabase: sqlite:///{tmp_path / 'db.sqlite3'}\nrules_dir: {rules}\n")
        run = subprocess.run(
            [*MICD, "serve", "--config", str(f)], capture_output=True, text=True, check=False, timeout=60
        )
    assert run.returncode == 2
    assert f"invalid setting listen: cannot listen on 127.0.0.1:{port}" in run.stderr
