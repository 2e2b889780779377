"""`micd backtest`: recorded webhooks replayed in simulated time, proposals printed, scored against labels."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.alerts.fingerprint import fingerprint
from daemon.cli import backtest
from daemon.cli.fire import to_webhook
from tests.correlation.factory import RULES_DIR, T0


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    backtest.register(parser.add_subparsers())
    args = parser.parse_args(["backtest", *argv])
    code: int = args.run(args)
    return code


def recording(tmp_path: Path) -> tuple[Path, list[str]]:
    outage = json.loads((RULES_DIR / "examples" / "outage.json").read_text())
    noise = json.loads((RULES_DIR / "examples" / "noise.json").read_text())
    lines = []
    for offset, alerts in ((0, noise), (30, outage), (31, outage)):  # the last line is a group resend
        at = T0 + timedelta(minutes=offset)
        payload = to_webhook(alerts, now=at)
        for alert in payload["alerts"]:
            alert["startsAt"] = (T0 + timedelta(minutes=30 if alerts is outage else 0)).isoformat()
        lines.append(json.dumps({**payload, "receivedAt": at.isoformat()}))
    path = tmp_path / "alerts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, [fingerprint(a["labels"]) for a in outage]


def test_replay_prints_the_one_proposal_and_scores_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alerts, fingerprints = recording(tmp_path)
    labels = tmp_path / "incidents.jsonl"
    start = (T0 + timedelta(minutes=30)).isoformat()
    labels.write_text(json.dumps({"id": "INC1", "tenant": "acme", "start": start, "fingerprints": fingerprints}))
    assert run(str(alerts), "--rules", str(RULES_DIR), "--labels", str(labels)) == 0
    captured = capsys.readouterr()
    assert captured.out.count("rule customer-facing-outage") == 1
    assert "incident INC1: proposal prop-" in captured.out
    assert "precision 1.000 recall 1.000 median time-to-propose 0s" in captured.out
    assert "9 events, 5 outages, 1 proposals" in captured.err


def test_a_bad_line_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"version": "4", "status": "firing", "alerts": []}\nnot json\n')
    assert run(str(path), "--rules", str(RULES_DIR)) == 2
    assert "alerts.jsonl:2" in capsys.readouterr().err
