"""`micd rules check [DIR]`: 0 with a summary on good rules, 2 with file:line problems on bad ones."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pytest

from daemon.cli import rules
from tests.correlation.factory import RULES_DIR


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    rules.register(parser.add_subparsers())
    args = parser.parse_args(["rules", "check", *argv])
    code: int = args.run(args)
    return code


def test_shipped_rules_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(str(RULES_DIR)) == 0
    out = capsys.readouterr().out
    assert "rules ok: 17 services (5 shared platform, tenants: acme, globex), 3 impact rules (live)" in out


def test_a_bad_edit_fails_naming_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    globex = target / "catalog" / "globex.yaml"
    globex.write_text(globex.read_text().replace("depends_on: [postgres-shared, notifications]", "depends_on: [pg]"))
    assert run(str(target)) == 2
    err = capsys.readouterr().err
    assert f"{globex}:21: services.1.depends_on.0: no service named 'pg' in tenant globex or the platform" in err


def test_a_missing_directory_fails(tmp_path: Path) -> None:
    assert run(str(tmp_path / "absent")) == 2
