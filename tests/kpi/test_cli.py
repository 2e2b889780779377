"""`micd kpi baseline` and `micd kpi report` end to end, on a database the real command and decision services
filled over eight weeks: four before the rollout (the baseline) and four after it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from daemon.cli.main import main
from daemon.kpi.compare import Kpi, Verdict
from daemon.store import kpi as store
from daemon.store.database import Database
from tests.command.conftest import T0
from tests.kpi.conftest import BASELINE_END, REPORT_END, Rollout

BASE_ARGS = ["--until", BASELINE_END.isoformat(), "--window", "28d"]
REPORT_ARGS = ["--until", REPORT_END.isoformat(), "--since", "4w"]


def micd(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows(markdown: str, tenant: str) -> dict[str, list[str]]:
    """The KPI table of one tenant's section: title -> [baseline, current, change, target, verdict]."""
    section = markdown.split(f"## Tenant {tenant}\n", 1)[1].split("\nWeekly:", 1)[0]
    table = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| KPI")]
    cells = [[c.strip() for c in line.strip("|").split(" | ")] for line in table if "---" not in line]
    return {c[0]: c[1:] for c in cells}


async def test_baseline_then_report_against_targets(
    db: Database, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rollout = Rollout(db)
    await rollout.before()

    # before any baseline: the report says so, relative targets have no data, precision is judged on its own
    code, out, _ = micd(capsys, "kpi", "report", "--config", str(config), "--until", BASELINE_END.isoformat())
    assert code == 0
    assert "No baseline captured yet" in out
    acme = rows(out, "acme")
    assert acme[Kpi.MTTR_P50.label] == ["no data", "1h 45m (n=4)", "no data", "20-40% lower than baseline", "no data"]
    assert acme[Kpi.PRECISION.label][1:] == ["66.7% (4/6)", "no data", ">= 80.0%", "not met"]

    code, out, err = micd(capsys, "kpi", "baseline", "--config", str(config), *BASE_ARGS, "--label", "pre-rollout")
    assert (code, err) == (0, "")
    assert 'KPI baseline #1 "pre-rollout"' in out
    # MTTR 60, 90, 120, 240 min: p50 105 min, p90 120 + 0.7 x 120 = 204 min; 4 of 7 updates on time;
    # incident 2 repeats incident 1; 4 accepted and 2 rejected (the canceled one is no verdict)
    assert "| acme | 1h 45m (n=4) | 3h 24m (n=4) | 40.0% (4/10) | 25.0% (1/4) | 66.7% (4/6) |" in out
    assert "| initech | no data | no data | no data | no data | no data |" in out
    stored = db.read_sync(store.baselines)
    assert [(s.id, s.label, s.start, s.end) for s in stored] == [(1, "pre-rollout", T0, BASELINE_END)]
    assert stored[0].tenants["acme"].mttr_p50 == 105 * 60

    await rollout.after()
    code, out, err = micd(capsys, "kpi", "report", "--config", str(config), *REPORT_ARGS)
    assert (code, err) == (0, "")
    assert 'Baseline #1 "pre-rollout"' in out
    acme = rows(out, "acme")
    # after: MTTR 45, 60, 75 min; every update on time; no repeats; 3 of 3 accepted
    assert acme[Kpi.MTTR_P50.label] == [
        "1h 45m (n=4)",
        "1h (n=3)",
        "-45m (-42.9%)",
        "20-40% lower: 1h 03m to 1h 24m",
        Verdict.MET.value,
    ]
    assert acme[Kpi.MTTR_P90.label][1] == "1h 12m (n=3)"
    assert acme[Kpi.COMPLIANCE.label] == [
        "40.0% (4/10)",
        "100.0% (5/5)",
        "+60.0 pts (+150.0%)",
        "+10 pts (>= 50.0%) or >= 95.0%",
        "met",
    ]
    assert acme[Kpi.REPEAT_RATE.label][1:] == ["0.0% (0/3)", "-25.0 pts (-100.0%)", ">= 25% lower: <= 18.8%", "met"]
    assert acme[Kpi.PRECISION.label][1:] == ["100.0% (3/3)", "+33.3 pts (+50.0%)", ">= 80.0%", "met"]
    # globex had no incident in the baseline window: absolute targets judge, relative ones cannot
    globex = rows(out, "globex")
    assert globex[Kpi.MTTR_P50.label] == ["no data", "30m (n=1)", "no data", "20-40% lower than baseline", "no data"]
    assert globex[Kpi.COMPLIANCE.label][-1] == "met"
    assert globex[Kpi.REPEAT_RATE.label][-1] == "no data"
    assert {r[-1] for r in rows(out, "initech").values()} == {"no data"}
    weekly = out.split("## Tenant acme\n", 1)[1].split("## Tenant globex", 1)[0]
    assert "| 2026-02-02 | 45m (n=1) | 100.0% (1/1) | 0.0% (0/1) | 100.0% (1/1) |" in weekly
    assert "| 2026-02-23 | 1h 15m (n=1) |" in weekly

    # an earlier period compares with the same baseline: it is the baseline period itself, so nothing moved
    argv = ["--since", "28d", "--baseline", "1", "--until", BASELINE_END.isoformat()]
    code, out, _ = micd(capsys, "kpi", "report", "--config", str(config), *argv)
    assert code == 0
    assert rows(out, "acme")[Kpi.MTTR_P50.label][2:] == ["+0s (+0.0%)", "20-40% lower: 1h 03m to 1h 24m", "not met"]


async def test_html_goes_to_the_output_file(db: Database, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await Rollout(db).before()
    target = config.parent / "report.html"
    code, out, _ = micd(capsys, "kpi", "report", "--config", str(config), "--format", "html", "--output", str(target))
    assert code == 0
    assert out == f"KPI report (html) written to {target}\n"
    page = target.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["report", "--since", "0w"], 2, "--since: '0w' is not a positive span"),
        (["report", "--since", "8 weeks"], 2, "--since:"),
        (["baseline", "--window", "1y"], 2, "--window:"),
        (["report", "--until", "yesterday"], 2, "--until: 'yesterday' is not an ISO 8601 time"),
        (["report", "--baseline", "7"], 2, "no KPI baseline #7"),
        (["report", "--output", "/nonexistent/dir/r.md"], 2, "--output: cannot write"),
    ],
)
def test_bad_input_names_the_option(
    db: Database, config: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    got, out, err = micd(capsys, "kpi", argv[0], "--config", str(config), *argv[1:])
    assert (got, out) == (code, "")
    assert message in err


def test_a_missing_database_is_an_error_not_a_new_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "micd.yaml"
    config.write_text(f"database: sqlite:///{tmp_path}/nowhere/micd.sqlite3\n")
    code, out, err = micd(capsys, "kpi", "baseline", "--config", str(config))
    assert (code, out) == (2, "")
    assert "no database at" in err
    assert not (tmp_path / "nowhere").exists()


def test_a_database_without_the_command_tables_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = Database(tmp_path / "other.sqlite3")
    empty.migrate(store.MIGRATIONS)
    empty.close()
    config = tmp_path / "micd.yaml"
    config.write_text(f"database: sqlite:///{tmp_path}/other.sqlite3\n")
    code, _, err = micd(capsys, "kpi", "report", "--config", str(config))
    assert code == 1
    assert "no incidents, incident_updates, incident_missed_updates, proposals table(s)" in err


def test_invalid_settings_exit_2_naming_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "micd.yaml"
    config.write_text("kpi:\n  precision_min: 1.5\n")
    code, _, err = micd(capsys, "kpi", "report", "--config", str(config))
    assert code == 2
    assert "invalid setting kpi.precision_min" in err


async def test_report_reads_while_the_daemon_holds_a_write_transaction(
    db: Database, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """WAL: the CLI reads the last committed state beside a writer that has not committed yet."""
    await Rollout(db).before()
    writer = sqlite3.connect(db.path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE incident_updates SET on_time = 1")  # uncommitted: the report must not see it
        code, out, _ = micd(capsys, "kpi", "report", "--config", str(config), "--until", BASELINE_END.isoformat())
        assert code == 0
        assert rows(out, "acme")[Kpi.COMPLIANCE.label][1] == "40.0% (4/10)"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
