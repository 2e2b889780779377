"""Reloading: a good edit takes effect, a bad one is refused and the rules in force stay."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from daemon.impact.ruleset import Ruleset
from daemon.kernel.errors import ConfigError
from daemon.runtime.rules import RulesHolder, read_rules
from daemon.telemetry.metrics import Metrics
from tests.correlation.factory import RULES_DIR


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES_DIR, target)
    return target


def sample(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    value = metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


def test_bad_edit_keeps_the_rules_in_force(rules_dir: Path) -> None:
    metrics = Metrics()
    holder = RulesHolder(directory=rules_dir, metrics=metrics)
    seen: list[Ruleset] = []
    holder.subscribe(seen.append)
    before = holder.start()
    acme = rules_dir / "catalog" / "acme.yaml"
    acme.write_text(acme.read_text().replace("tier: 4", "tier: 9"))
    assert holder.reload() is False
    assert holder.current is before
    assert seen == []
    assert sample(metrics, "micd_rules_reloads_total", {"outcome": "failure"}) == 1
    assert sample(metrics, "micd_rules_last_reload_success") == 0

    acme.write_text(acme.read_text().replace("tier: 9", "tier: 3"))
    assert holder.reload() is True
    assert holder.current is not before
    assert seen == [holder.current]
    assert holder.current.catalog.get("acme", "reporting") is not None
    assert holder.current.catalog.get("acme", "reporting").tier == 3  # type: ignore[union-attr]
    assert sample(metrics, "micd_rules_reloads_total", {"outcome": "success"}) == 1
    assert sample(metrics, "micd_rules_last_reload_success") == 1


def test_examples_are_not_rules(rules_dir: Path) -> None:
    (rules_dir / "examples" / "broken.yaml").write_text("kind: nonsense\n")
    assert read_rules(rules_dir).catalog.tenants == ["acme", "globex"]


def test_a_mounted_configmap_is_read_once(tmp_path: Path) -> None:
    """Kubernetes mounts a ConfigMap as symlinks into a hidden, timestamped directory (and ..data)."""
    mount = tmp_path / "rules"
    stamp = mount / "..2026_12_04_04_00_00.123456789"
    stamp.mkdir(parents=True)
    for source in sorted(RULES_DIR.rglob("*.yaml")):
        if "examples" not in source.parts:
            flat = "-".join(source.relative_to(RULES_DIR).parts)
            (stamp / flat).write_text(source.read_text())
    (mount / "..data").symlink_to(stamp.name)
    for item in stamp.iterdir():
        (mount / item.name).symlink_to(Path("..data") / item.name)
    rules = read_rules(mount)
    assert rules.catalog.tenants == ["acme", "globex"]
    assert all(".." not in source for source in rules.sources)


def test_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        read_rules(tmp_path / "nope")


async def test_a_file_change_reloads_while_watching(rules_dir: Path) -> None:
    holder = RulesHolder(directory=rules_dir, metrics=Metrics())
    before = holder.start()
    watching = holder.watching()
    await watching.__anext__()
    try:
        await asyncio.sleep(0.3)  # let the watcher subscribe before the edit (setup, not an assertion on time)
        impact = rules_dir / "impact" / "rules.yaml"
        impact.write_text(impact.read_text().replace("cooldown_minutes: 60", "cooldown_minutes: 90"))
        for _ in range(100):  # bounded poll: up to ~10 s
            if holder.current is not before:
                break
            await asyncio.sleep(0.1)
        assert holder.current.book.cooldown == timedelta(minutes=90)
    finally:
        with contextlib.suppress(StopAsyncIteration):
            await watching.__anext__()
