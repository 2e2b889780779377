"""Geometry of the weekly line charts in the HTML report; the template turns it into inline SVG.

Computing coordinates here keeps the template free of arithmetic and lets tests check what is drawn. A week
without data is a gap in the line, not a zero: the line breaks and the week's table cell says "no data".
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from daemon.kpi import display
from daemon.kpi.compare import Band, Kpi

WIDTH, HEIGHT = 520, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 28, 16, 40
MAX_X_LABELS = 8
_MTTR_STEPS = [60, 300, 600, 900, 1800, 3600, 2 * 3600, 4 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400]


class Point(BaseModel):
    model_config = ConfigDict(frozen=True)

    x: float
    y: float
    text: str


class Tick(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: float
    text: str


class Chart(BaseModel):
    model_config = ConfigDict(frozen=True)

    kpi: Kpi
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    segments: list[str]
    points: list[Point]
    baseline_y: float | None
    baseline_text: str
    band_top: float | None
    band_bottom: float | None
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    summary: str

    @property
    def empty(self) -> bool:
        return not self.points


def _text(kpi: Kpi, value: float | None) -> str:
    return display.duration(value) if kpi.is_duration else display.percent(value)


def _ceiling(kpi: Kpi, highest: float) -> tuple[float, float]:
    """Top of the y axis and the tick step: ratios always 0-100%, durations a round step above the data."""
    if not kpi.is_duration:
        return 1.0, 0.25
    step = next((s for s in _MTTR_STEPS if highest / s <= 5), _MTTR_STEPS[-1])
    return max(step, step * -(-highest // step)), step


def line_chart(
    *, kpi: Kpi, labels: Sequence[str], values: Sequence[float | None], baseline: float | None, band: Band | None
) -> Chart:
    """One point per week (label, value); the baseline as a dashed line and the target band shaded."""
    if len(labels) != len(values):
        raise ValueError("one label per value")
    known = [v for v in values if v is not None]
    highest = max([*known, *([baseline] if baseline is not None else []), *([band.high] if band else [])], default=0)
    top_value, step = _ceiling(kpi, highest * 1.1 if kpi.is_duration else highest)
    bottom_px, top_px = HEIGHT - BOTTOM, TOP

    def y(value: float) -> float:
        clamped = min(max(value, 0.0), top_value)
        return round(bottom_px - (bottom_px - top_px) * clamped / top_value, 1)

    def x(index: int) -> float:
        span = WIDTH - RIGHT - LEFT
        if len(values) == 1:
            return LEFT + span / 2
        return round(LEFT + span * index / (len(values) - 1), 1)

    points: list[Point] = []
    segments: list[str] = []
    run: list[str] = []
    for index, value in enumerate(values):
        if value is None:
            if len(run) > 1:
                segments.append(" ".join(run))
            run = []
            continue
        point = Point(x=x(index), y=y(value), text=f"{labels[index]}: {_text(kpi, value)}")
        points.append(point)
        run.append(f"{point.x},{point.y}")
    if len(run) > 1:
        segments.append(" ".join(run))
    ticks = [Tick(at=y(step * i), text=_text(kpi, step * i)) for i in range(round(top_value / step) + 1)]
    every = -(-len(labels) // MAX_X_LABELS)  # label every week, or every other, ... so labels never overlap
    weeks = len([v for v in values if v is not None])
    summary = f"{kpi.label} per week: data in {weeks} of {len(values)} weeks" + (
        f"; baseline {_text(kpi, baseline)}" if baseline is not None else "; no baseline"
    )
    return Chart(
        kpi=kpi,
        title=f"{kpi.label} per week",
        segments=segments,
        points=points,
        baseline_y=None if baseline is None else y(baseline),
        baseline_text="" if baseline is None else f"baseline {_text(kpi, baseline)}",
        band_top=None if band is None else y(band.high),
        band_bottom=None if band is None else y(band.low),
        y_ticks=ticks,
        x_ticks=[Tick(at=x(i), text=label) for i, label in enumerate(labels) if i % every == 0],
        summary=summary,
    )
