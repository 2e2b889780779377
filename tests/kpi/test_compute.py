"""Pure KPI computations, table-driven: percentiles, windows, tenants, empty data, weekly buckets, spans."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta

import pytest

from daemon.kernel.errors import InvalidInput
from daemon.kpi.compute import parse_span, quantile, snapshot, tenant_kpis, weeks
from daemon.kpi.models import DecisionFact, IncidentFact, Ratio, Records, UpdateFact

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def incident(n: int, *, at: datetime, hours: float | None, tenant: str = "acme", repeat: bool = False) -> IncidentFact:
    resolved = None if hours is None else at + timedelta(hours=hours)
    return IncidentFact(tenant=tenant, incident_id=f"MI-{n}", declared_at=at, resolved_at=resolved, repeat=repeat)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.5, 7.0),
        ([7.0], 0.9, 7.0),
        ([1.0, 3.0], 0.5, 2.0),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.5),
        ([60.0, 90.0, 120.0, 240.0], 0.9, 204.0),
        ([10.0, 20.0, 30.0], 0.0, 10.0),
        ([10.0, 20.0, 30.0], 1.0, 30.0),
    ],
)
def test_quantile_interpolates_between_closest_ranks(values: list[float], q: float, expected: float | None) -> None:
    got = quantile(values, q)
    assert got is None if expected is None else got == pytest.approx(expected)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 13])
def test_quantile_agrees_with_the_standard_library_inclusive_method(n: int) -> None:
    values = [float((i * 37) % 101) for i in range(n)]
    deciles = statistics.quantiles(values, n=10, method="inclusive")
    assert quantile(values, 0.5) == pytest.approx(statistics.median(values))
    assert quantile(values, 0.9) == pytest.approx(deciles[8])


def test_quantile_refuses_a_level_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="outside"):
        quantile([1.0], 1.5)


RECORDS = Records(
    incidents=(
        incident(1, at=T, hours=1),  # resolved inside
        incident(2, at=T + 2 * H, hours=3, repeat=True),  # resolved inside, a repeat
        incident(3, at=T - 30 * H, hours=31),  # declared before the window, resolved inside: MTTR counts it
        incident(4, at=T + 20 * H, hours=10),  # declared inside, resolved after the window ends
        incident(5, at=T + 3 * H, hours=None),  # still open
        incident(6, at=T, hours=2, tenant="globex"),
    ),
    updates=(
        UpdateFact(tenant="acme", at=T, on_time=True),  # at the start: inside (half-open window)
        UpdateFact(tenant="acme", at=T + H, on_time=False),
        UpdateFact(tenant="acme", at=T + 3 * H, on_time=True),
        UpdateFact(tenant="acme", at=T + 24 * H, on_time=False),  # at the end: outside
        UpdateFact(tenant="globex", at=T, on_time=False),
    ),
    decisions=(
        DecisionFact(tenant="acme", at=T, state="accepted"),
        DecisionFact(tenant="acme", at=T + H, state="rejected"),
        DecisionFact(tenant="acme", at=T + 2 * H, state="canceled"),  # not a verdict on micd
        DecisionFact(tenant="acme", at=T + 3 * H, state="accepted"),
        DecisionFact(tenant="acme", at=T - H, state="rejected"),  # before the window
    ),
)


def test_one_day_window_counts_each_kpi_by_its_own_event_time() -> None:
    kpis = tenant_kpis(RECORDS, tenant="acme", start=T, end=T + 24 * H)
    # MTTR by resolution time: incidents 1, 2 and 3 (1 h, 3 h, 31 h); 4 resolves after the end; 5 is open
    assert kpis.resolved == 3
    assert kpis.mttr_p50 == 3 * 3600
    assert kpis.mttr_p90 == pytest.approx((3 + 0.8 * 28) * 3600)
    assert kpis.compliance == Ratio(hits=2, total=3)
    # repeat rate by declaration time: 1, 2, 4, 5 declared inside (3 before), one of them a repeat
    assert kpis.repeats == Ratio(hits=1, total=4)
    assert kpis.precision == Ratio(hits=2, total=3)


@pytest.mark.parametrize(
    ("tenant", "start", "end"),
    [
        ("initech", T, T + 24 * H),  # a tenant without events
        ("acme", T + 100 * H, T + 200 * H),  # a window after everything
        ("acme", T - 500 * H, T - 400 * H),  # a window before everything
    ],
)
def test_no_events_is_no_data_never_zero(tenant: str, start: datetime, end: datetime) -> None:
    kpis = tenant_kpis(RECORDS, tenant=tenant, start=start, end=end)
    assert (kpis.resolved, kpis.mttr_p50, kpis.mttr_p90) == (0, None, None)
    assert kpis.compliance.value is None
    assert kpis.repeats.value is None
    assert kpis.precision.value is None


def test_empty_records_give_an_empty_snapshot_or_named_tenants_without_data() -> None:
    assert snapshot(Records(), start=T, end=T + H, now=T + H).tenants == {}
    named = snapshot(Records(), start=T, end=T + H, tenants=["acme"], label="pre", now=T + H)
    assert named.label == "pre"
    assert named.tenants["acme"].mttr_p50 is None
    assert named.tenants["acme"].compliance.total == 0


def test_snapshot_covers_named_and_seen_tenants_separately() -> None:
    snap = snapshot(RECORDS, start=T, end=T + 24 * H, tenants=["initech"], now=T + 24 * H)
    assert sorted(snap.tenants) == ["acme", "globex", "initech"]
    assert snap.tenants["globex"].mttr_p50 == 2 * 3600
    assert snap.tenants["globex"].compliance == Ratio(hits=0, total=1)
    assert snap.tenants["initech"].resolved == 0


def test_snapshot_refuses_an_empty_window() -> None:
    with pytest.raises(InvalidInput, match="window"):
        snapshot(RECORDS, start=T, end=T, now=T)


def test_weeks_count_back_from_the_end_and_the_oldest_may_be_short() -> None:
    series = weeks(RECORDS, tenant="acme", start=T - timedelta(days=10), end=T + timedelta(days=4))
    assert [(w.start, w.end) for w in series] == [
        (T - timedelta(days=10), T - timedelta(days=3)),
        (T - timedelta(days=3), T + timedelta(days=4)),
    ]
    assert series[0].kpis.resolved == 0
    assert series[0].kpis.precision == Ratio(hits=0, total=0)
    assert series[1].kpis.resolved == 4
    series = weeks(RECORDS, tenant="acme", start=T - timedelta(days=11), end=T + timedelta(days=4))
    assert [w.end - w.start for w in series] == [timedelta(days=1), timedelta(days=7), timedelta(days=7)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("8w", timedelta(weeks=8)),
        ("12h", timedelta(hours=12)),
        (" 4w ", timedelta(weeks=4)),
    ],
)
def test_spans(text: str, expected: timedelta) -> None:
    assert parse_span(text, field="--since") == expected


@pytest.mark.parametrize("text", ["", "0d", "8", "w", "-3d", "2m", "1.5w", "8 weeks"])
def test_bad_spans_name_the_field(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_span(text, field="--since")
    assert caught.value.problems[0].field == "--since"
