"""Current KPIs against the baseline and the rollout's target ranges: met, not met, or no data.

A verdict needs the numbers it rests on. Without a baseline, targets defined relative to it cannot be judged
(no data), while absolute ones (precision, the compliance floor) still can. Nothing here divides by zero.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from daemon.config.kpi import KpiSettings
from daemon.kpi import display
from daemon.kpi.models import Ratio, TenantKpis

# Ratios computed from counts are compared with a little slack, so 0.4 x 0.75 still meets a 0.3 target.
_SLACK = 1e-9


class Kpi(StrEnum):
    MTTR_P50 = "mttr_p50"
    MTTR_P90 = "mttr_p90"
    COMPLIANCE = "compliance"
    REPEAT_RATE = "repeat_rate"
    PRECISION = "precision"

    @property
    def label(self) -> str:
        return _TITLES[self]

    @property
    def is_duration(self) -> bool:
        return self in (Kpi.MTTR_P50, Kpi.MTTR_P90)


_TITLES = {
    Kpi.MTTR_P50: "MTTR p50",
    Kpi.MTTR_P90: "MTTR p90",
    Kpi.COMPLIANCE: "Status-update compliance",
    Kpi.REPEAT_RATE: "Repeat major incident rate",
    Kpi.PRECISION: "Proposal precision",
}


class Verdict(StrEnum):
    MET = "met"
    NOT_MET = "not met"
    NO_DATA = "no data"


class Measure(BaseModel):
    """A KPI value with what it rests on: `hits`/`total` for ratios, `total` resolved incidents for MTTR."""

    model_config = ConfigDict(frozen=True)

    value: float | None
    hits: int | None = None
    total: int

    def text(self, kpi: Kpi) -> str:
        if self.value is None:
            return display.NO_DATA
        if kpi.is_duration:
            return f"{display.duration(self.value)} (n={self.total})"
        return f"{display.percent(self.value)} ({self.hits}/{self.total})"


class Band(BaseModel):
    """Where the current value meets its target, in the KPI's units; charts shade it."""

    model_config = ConfigDict(frozen=True)

    low: float
    high: float


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    kpi: Kpi
    baseline: Measure | None
    current: Measure
    delta: float | None
    relative: float | None
    band: Band | None
    target: str
    verdict: Verdict

    def change_text(self) -> str:
        if self.delta is None:
            return display.NO_DATA
        absolute = display.signed_duration(self.delta) if self.kpi.is_duration else display.points(self.delta)
        return absolute if self.relative is None else f"{absolute} ({display.signed_percent(self.relative)})"


def _ratio(r: Ratio) -> Measure:
    return Measure(value=r.value, hits=r.hits, total=r.total)


def measures(kpis: TenantKpis) -> dict[Kpi, Measure]:
    return {
        Kpi.MTTR_P50: Measure(value=kpis.mttr_p50, total=kpis.resolved),
        Kpi.MTTR_P90: Measure(value=kpis.mttr_p90, total=kpis.resolved),
        Kpi.COMPLIANCE: _ratio(kpis.compliance),
        Kpi.REPEAT_RATE: _ratio(kpis.repeats),
        Kpi.PRECISION: _ratio(kpis.precision),
    }


def _judge(current: float | None, band: Band | None) -> Verdict:
    if current is None or band is None:
        return Verdict.NO_DATA
    return Verdict.MET if band.low - _SLACK <= current <= band.high + _SLACK else Verdict.NOT_MET


def _mttr(base: float | None, t: KpiSettings) -> tuple[Band | None, str]:
    span = f"{t.mttr_reduction_min * 100:.0f}-{t.mttr_reduction_max * 100:.0f}% lower"
    if base is None:
        return None, f"{span} than baseline"
    low, high = base * (1 - t.mttr_reduction_max), base * (1 - t.mttr_reduction_min)
    # Faster than the expected range still meets the target: the band is drawn, the verdict starts at 0.
    return Band(low=low, high=high), f"{span}: {display.duration(low)} to {display.duration(high)}"


def _compliance(base: float | None, t: KpiSettings) -> tuple[Band, str]:
    floor = f">= {display.percent(t.compliance_floor)}"
    gain = f"+{t.compliance_gain * 100:.0f} pts"
    if base is None:
        return Band(low=t.compliance_floor, high=1.0), f"{gain} over baseline or {floor}"
    low = min(base + t.compliance_gain, t.compliance_floor)
    return Band(low=low, high=1.0), f"{gain} (>= {display.percent(min(base + t.compliance_gain, 1.0))}) or {floor}"


def _repeat(base: float | None, t: KpiSettings) -> tuple[Band | None, str]:
    cut = f">= {t.repeat_reduction_min:.0%} lower"
    if base is None:
        return None, f"{cut} than baseline"
    high = base * (1 - t.repeat_reduction_min)
    return Band(low=0.0, high=high), f"{cut}: <= {display.percent(high)}"


def _one(kpi: Kpi, base: Measure | None, now: Measure, t: KpiSettings) -> Comparison:
    base_value = base.value if base is not None else None
    band: Band | None
    if kpi.is_duration:
        band, target = _mttr(base_value, t)
        verdict = _judge(now.value, None if band is None else band.model_copy(update={"low": 0.0}))
    elif kpi is Kpi.COMPLIANCE:
        band, target = _compliance(base_value, t)
        verdict = _judge(now.value, band)
        if base_value is None and verdict is Verdict.NOT_MET:
            verdict = Verdict.NO_DATA  # below the floor, but the +points half needs a baseline to judge
    elif kpi is Kpi.REPEAT_RATE:
        band, target = _repeat(base_value, t)
        verdict = _judge(now.value, band)
    else:
        band, target = Band(low=t.precision_min, high=1.0), f">= {display.percent(t.precision_min)}"
        verdict = _judge(now.value, band)
    delta = now.value - base_value if now.value is not None and base_value is not None else None
    relative = delta / base_value if delta is not None and base_value else None
    return Comparison(
        kpi=kpi,
        baseline=base,
        current=now,
        delta=delta,
        relative=relative,
        band=band,
        target=target,
        verdict=verdict,
    )


def compare(*, current: TenantKpis, baseline: TenantKpis | None, targets: KpiSettings) -> list[Comparison]:
    """One row per KPI, in report order; `baseline` is None when the snapshot has no such tenant (or none exists)."""
    now = measures(current)
    base = measures(baseline) if baseline is not None else {}
    return [_one(kpi, base.get(kpi), now[kpi], targets) for kpi in Kpi]
