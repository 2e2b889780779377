"""Chart geometry: gaps stay gaps, larger values sit higher, baseline and band land where their values are."""

from __future__ import annotations

import pytest

from daemon.kpi.charts import BOTTOM, HEIGHT, LEFT, MAX_X_LABELS, RIGHT, TOP, WIDTH, line_chart
from daemon.kpi.compare import Band, Kpi

LABELS = [f"2026-01-{d:02d}" for d in (5, 12, 19, 26, 31)]


def test_weeks_without_data_break_the_line_and_draw_no_point() -> None:
    chart = line_chart(kpi=Kpi.COMPLIANCE, labels=LABELS, values=[0.5, 0.75, None, 1.0, None], baseline=None, band=None)
    assert [p.text for p in chart.points] == ["2026-01-05: 50.0%", "2026-01-12: 75.0%", "2026-01-26: 100.0%"]
    assert len(chart.segments) == 1  # weeks 1-2; week 4 stands alone as a point
    assert chart.segments[0] == f"{chart.points[0].x},{chart.points[0].y} {chart.points[1].x},{chart.points[1].y}"
    # ratios always span 0-100%: 0.5 is halfway up the plot, 1.0 at its top
    assert chart.points[0].y == pytest.approx((HEIGHT - BOTTOM + TOP) / 2, abs=0.1)
    assert chart.points[2].y == TOP
    assert chart.points[0].x == LEFT
    assert chart.points[2].x == pytest.approx(LEFT + (WIDTH - RIGHT - LEFT) * 3 / 4)
    assert (chart.baseline_y, chart.band_top) == (None, None)


def test_mttr_axis_rounds_up_above_data_baseline_and_band() -> None:
    chart = line_chart(
        kpi=Kpi.MTTR_P50,
        labels=LABELS[:3],
        values=[3600.0, 1800.0, 2700.0],
        baseline=6300.0,
        band=Band(low=3780.0, high=5040.0),
    )
    assert [t.text for t in chart.y_ticks] == ["0s", "30m", "1h", "1h 30m", "2h"]
    ys = [p.y for p in chart.points]
    assert chart.baseline_y is not None
    assert chart.band_top is not None
    assert chart.band_bottom is not None
    assert chart.baseline_y < chart.band_top < chart.band_bottom < ys[0] < ys[2] < ys[1]
    assert chart.baseline_text == "baseline 1h 45m"


def test_an_empty_series_says_so() -> None:
    chart = line_chart(kpi=Kpi.MTTR_P50, labels=LABELS, values=[None] * 5, baseline=None, band=None)
    assert chart.empty
    assert chart.segments == []
    assert "data in 0 of 5 weeks; no baseline" in chart.summary


@pytest.mark.parametrize(("weeks", "shown"), [(1, 1), (8, 8), (9, 5), (16, 8), (52, 8)])
def test_week_labels_are_thinned_so_they_never_overlap(weeks: int, shown: int) -> None:
    labels = [f"w{i}" for i in range(weeks)]
    chart = line_chart(kpi=Kpi.COMPLIANCE, labels=labels, values=[0.5] * weeks, baseline=None, band=None)
    assert len(chart.x_ticks) == shown <= MAX_X_LABELS
    assert chart.x_ticks[0].text == "w0"
    assert len(chart.points) == weeks


def test_one_label_per_value() -> None:
    with pytest.raises(ValueError, match="one label per value"):
        line_chart(kpi=Kpi.COMPLIANCE, labels=["a"], values=[], baseline=None, band=None)
