"""Baseline and target comparison, table-driven: each KPI's verdict, band and change, and honest "no data"."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from daemon.config.kpi import KpiSettings
from daemon.config.settings import load
from daemon.kernel.errors import ConfigError
from daemon.kpi import display
from daemon.kpi.compare import Band, Comparison, Kpi, Verdict, compare
from daemon.kpi.models import Ratio, TenantKpis

TARGETS = KpiSettings()
EMPTY = TenantKpis(tenant="acme")


def kpis(
    *,
    p50: float | None = None,
    p90: float | None = None,
    resolved: int = 0,
    compliance: tuple[int, int] = (0, 0),
    repeats: tuple[int, int] = (0, 0),
    precision: tuple[int, int] = (0, 0),
) -> TenantKpis:
    return TenantKpis(
        tenant="acme",
        resolved=resolved,
        mttr_p50=p50,
        mttr_p90=p90,
        compliance=Ratio(hits=compliance[0], total=compliance[1]),
        repeats=Ratio(hits=repeats[0], total=repeats[1]),
        precision=Ratio(hits=precision[0], total=precision[1]),
    )


def row(kpi: Kpi, current: TenantKpis, baseline: TenantKpis | None, targets: KpiSettings = TARGETS) -> Comparison:
    return next(r for r in compare(current=current, baseline=baseline, targets=targets) if r.kpi is kpi)


@pytest.mark.parametrize(
    ("baseline", "current", "verdict"),
    [
        (6000.0, 4800.0, Verdict.MET),  # exactly 20% lower
        (6000.0, 4801.0, Verdict.NOT_MET),  # just short of it
        (6000.0, 3000.0, Verdict.MET),  # 50% lower: beyond the expected range still meets the target
        (6000.0, 6600.0, Verdict.NOT_MET),  # slower than before
        (None, 4800.0, Verdict.NO_DATA),  # no baseline: nothing to be lower than
        (6000.0, None, Verdict.NO_DATA),  # nothing resolved in the period
    ],
)
def test_mttr_must_fall_by_the_minimum_reduction(
    baseline: float | None, current: float | None, verdict: Verdict
) -> None:
    base = kpis(p50=baseline, resolved=int(baseline is not None))
    r = row(Kpi.MTTR_P50, kpis(p50=current, resolved=int(current is not None)), base)
    assert r.verdict is verdict
    if baseline is not None:
        assert r.band == Band(low=baseline * 0.6, high=baseline * 0.8)
    if baseline is not None and current is not None:
        assert r.delta == current - baseline
        assert r.relative == pytest.approx((current - baseline) / baseline)


@pytest.mark.parametrize(
    ("baseline", "current", "verdict", "low"),
    [
        ((7, 10), (8, 10), Verdict.MET, 0.8),  # +10 points exactly
        ((7, 10), (79, 100), Verdict.NOT_MET, 0.8),
        ((90, 100), (95, 100), Verdict.MET, 0.95),  # +5 points only, but at the 95% floor
        ((90, 100), (94, 100), Verdict.NOT_MET, 0.95),
        (None, (96, 100), Verdict.MET, 0.95),  # no baseline: the absolute floor still judges
        (None, (80, 100), Verdict.NO_DATA, 0.95),  # below the floor, and "+10 points" cannot be judged
        ((7, 10), (0, 0), Verdict.NO_DATA, 0.8),  # no updates in the period
    ],
)
def test_compliance_gains_ten_points_or_reaches_the_floor(
    baseline: tuple[int, int] | None, current: tuple[int, int], verdict: Verdict, low: float
) -> None:
    base = kpis(compliance=baseline) if baseline is not None else None
    r = row(Kpi.COMPLIANCE, kpis(compliance=current), base)
    assert r.verdict is verdict
    assert r.band is not None
    assert r.band.low == pytest.approx(low)
    assert r.band.high == 1.0


@pytest.mark.parametrize(
    ("baseline", "current", "verdict"),
    [
        ((4, 10), (3, 10), Verdict.MET),  # 0.40 -> 0.30: exactly 25% lower (float slack)
        ((4, 10), (31, 100), Verdict.NOT_MET),
        ((0, 10), (0, 5), Verdict.MET),  # none before, none now
        ((0, 10), (1, 5), Verdict.NOT_MET),  # none before: any repeat misses a 25% cut
        ((0, 0), (0, 5), Verdict.NO_DATA),  # nothing declared in the baseline window
        ((4, 10), (0, 0), Verdict.NO_DATA),
    ],
)
def test_repeat_rate_must_fall_by_a_quarter(
    baseline: tuple[int, int], current: tuple[int, int], verdict: Verdict
) -> None:
    r = row(Kpi.REPEAT_RATE, kpis(repeats=current), kpis(repeats=baseline))
    assert r.verdict is verdict
    if baseline == (0, 10):
        assert r.relative is None  # a change from 0 has no relative size; never a division by zero
        assert r.delta == (current[0] / current[1])


@pytest.mark.parametrize(
    ("current", "baseline", "verdict"),
    [((8, 10), None, Verdict.MET), ((79, 100), (9, 10), Verdict.NOT_MET), ((0, 0), (9, 10), Verdict.NO_DATA)],
)
def test_precision_is_absolute_and_needs_no_baseline(
    current: tuple[int, int], baseline: tuple[int, int] | None, verdict: Verdict
) -> None:
    base = kpis(precision=baseline) if baseline is not None else None
    assert row(Kpi.PRECISION, kpis(precision=current), base).verdict is verdict


def test_targets_come_from_settings() -> None:
    strict = KpiSettings(mttr_reduction_min=0.5, mttr_reduction_max=0.6, precision_min=0.95)
    current = kpis(p50=2900.0, resolved=3, precision=(9, 10))
    base = kpis(p50=6000.0, resolved=3)
    assert row(Kpi.MTTR_P50, current, base).verdict is Verdict.MET
    assert row(Kpi.MTTR_P50, current, base, strict).verdict is Verdict.MET
    assert row(Kpi.MTTR_P50, kpis(p50=3100.0, resolved=1), base, strict).verdict is Verdict.NOT_MET
    assert row(Kpi.PRECISION, current, None, strict).verdict is Verdict.NOT_MET
    assert row(Kpi.PRECISION, current, None, strict).target == ">= 95.0%"


def test_an_empty_tenant_gets_no_data_everywhere_and_no_invented_numbers() -> None:
    rows = compare(current=EMPTY, baseline=EMPTY, targets=TARGETS)
    assert [r.kpi for r in rows] == list(Kpi)
    assert {r.verdict for r in rows} == {Verdict.NO_DATA}
    assert all(r.delta is None and r.relative is None for r in rows)
    assert {r.current.text(r.kpi) for r in rows} == {"no data"}
    assert {r.change_text() for r in rows} == {"no data"}


@pytest.mark.parametrize(
    ("section", "field", "reason"),
    [
        ({"precision_min": 2}, "kpi.precision_min", "less than or equal to 1"),
        ({"mttr_reduction_min": 0.5, "mttr_reduction_max": 0.4}, "kpi", "mttr_reduction_max must be at least"),
        ({"mttr_target": 0.3}, "kpi.mttr_target", "Extra inputs"),
    ],
)
def test_settings_section_names_the_bad_key(tmp_path: Path, section: dict[str, float], field: str, reason: str) -> None:
    assert load().kpi == KpiSettings()
    path = tmp_path / "micd.yaml"
    path.write_text(yaml.safe_dump({"kpi": section}))
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert [p.field for p in caught.value.problems] == [field]
    assert reason in caught.value.problems[0].reason


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "no data"), (42.0, "42s"), (60.0, "1m"), (3600.0, "1h"), (6300.0, "1h 45m"), (90000.0, "1d 1h")],
)
def test_durations_read_as_people_say_them(seconds: float | None, text: str) -> None:
    assert display.duration(seconds) == text


def test_change_text_shows_absolute_and_relative() -> None:
    mttr = row(Kpi.MTTR_P50, kpis(p50=3600.0, resolved=2), kpis(p50=6300.0, resolved=4))
    assert mttr.change_text() == "-45m (-42.9%)"
    compliance = row(Kpi.COMPLIANCE, kpis(compliance=(4, 4)), kpis(compliance=(4, 7)))
    assert compliance.change_text() == "+42.9 pts (+75.0%)"
