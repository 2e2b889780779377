"""The KPI report: each tenant's KPIs over the period against the baseline and targets, with weekly series.

`build` is pure; `markdown` and `html` only lay out what it computed. The HTML page is self-contained (inline
CSS and SVG, no scripts or fonts fetched) so it can be mailed or archived as one file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel, ConfigDict

from daemon.config.kpi import KpiSettings
from daemon.kpi import display
from daemon.kpi.charts import Chart, line_chart
from daemon.kpi.compare import Comparison, Kpi, compare, measures
from daemon.kpi.compute import Week, tenant_kpis, weeks
from daemon.kpi.models import Records, Snapshot


class TenantReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    in_baseline: bool
    rows: list[Comparison]
    weeks: list[Week]
    charts: list[Chart]

    def week_cells(self, week: Week) -> list[str]:
        """Week start, then each KPI's value as the tables show it."""
        values = measures(week.kpis)
        return [display.day(week.start), *(values[k].text(k) for k in (Kpi.MTTR_P50, *_WEEKLY))]


_WEEKLY = (Kpi.COMPLIANCE, Kpi.REPEAT_RATE, Kpi.PRECISION)
CHARTED = (Kpi.MTTR_P50, Kpi.COMPLIANCE)
WEEK_HEADERS = ["week from", "MTTR p50", "compliance", "repeat rate", "precision"]


class Report(BaseModel):
    model_config = ConfigDict(frozen=True)

    generated_at: datetime
    start: datetime
    end: datetime
    baseline: Snapshot | None
    targets: KpiSettings
    tenants: list[TenantReport]

    @property
    def baseline_text(self) -> str:
        b = self.baseline
        if b is None:
            return "No baseline captured yet (run `micd kpi baseline`): changes and relative targets show no data."
        label = f' "{b.label}"' if b.label else ""
        return (
            f"Baseline #{b.id}{label}, taken {display.minute(b.taken_at)}, "
            f"over {display.day(b.start)} to {display.day(b.end)}."
        )

    @property
    def period_text(self) -> str:
        days = round((self.end - self.start).total_seconds() / 86400)
        return f"{display.minute(self.start)} to {display.minute(self.end)} ({days} days)"


def build(
    records: Records,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    baseline: Snapshot | None,
    targets: KpiSettings,
    tenants: Iterable[str] = (),
) -> Report:
    """Tenants named in settings, seen in the period, or in the baseline, each compared with its baseline."""
    names = sorted(set(tenants) | records.tenants() | (set(baseline.tenants) if baseline else set()))
    out: list[TenantReport] = []
    for tenant in names:
        base = baseline.tenants.get(tenant) if baseline else None
        rows = compare(
            current=tenant_kpis(records, tenant=tenant, start=start, end=end), baseline=base, targets=targets
        )
        series = weeks(records, tenant=tenant, start=start, end=end)
        charts = [_chart(r, series) for r in rows if r.kpi in CHARTED]
        out.append(TenantReport(tenant=tenant, in_baseline=base is not None, rows=rows, weeks=series, charts=charts))
    return Report(generated_at=now, start=start, end=end, baseline=baseline, targets=targets, tenants=out)


def _chart(row: Comparison, series: list[Week]) -> Chart:
    return line_chart(
        kpi=row.kpi,
        labels=[display.day(w.start) for w in series],
        values=[measures(w.kpis)[row.kpi].value for w in series],
        baseline=row.baseline.value if row.baseline is not None else None,
        band=row.band,
    )


def _table(headers: list[str], rows: Iterable[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(headers), line(["---"] * len(headers)), *(line(r) for r in rows)]


def markdown(report: Report) -> str:
    out = [
        "# micd KPI report",
        "",
        f"Period: {report.period_text}. Generated {display.minute(report.generated_at)}.",
        "",
        report.baseline_text,
    ]
    for t in report.tenants:
        out += ["", f"## Tenant {t.tenant}", ""]
        if report.baseline is not None and not t.in_baseline:
            out += ["This tenant is not in the baseline snapshot.", ""]
        out += _table(
            ["KPI", "baseline", "current", "change", "target", "verdict"],
            (
                [
                    r.kpi.label,
                    r.baseline.text(r.kpi) if r.baseline is not None else display.NO_DATA,
                    r.current.text(r.kpi),
                    r.change_text(),
                    r.target,
                    r.verdict.value,
                ]
                for r in t.rows
            ),
        )
        out += ["", "Weekly:", ""]
        out += _table(WEEK_HEADERS, (t.week_cells(w) for w in t.weeks))
    if not report.tenants:
        out += ["", "No tenant is configured or has events in the period or the baseline."]
    return "\n".join(out) + "\n"


def snapshot_markdown(snap: Snapshot) -> str:
    """A stored baseline as `micd kpi baseline` prints it."""
    label = f' "{snap.label}"' if snap.label else ""
    out = [
        f"KPI baseline #{snap.id}{label}, taken {display.minute(snap.taken_at)}",
        f"Window: {display.minute(snap.start)} to {display.minute(snap.end)}",
        "",
    ]
    out += _table(
        ["tenant", *(k.label for k in Kpi)],
        ([tenant, *(m.text(k) for k, m in measures(kpis).items())] for tenant, kpis in snap.tenants.items()),
    )
    if not snap.tenants:
        out += ["", "No tenant is configured or had events in the window."]
    return "\n".join(out) + "\n"


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("daemon.kpi", "templates"),
        undefined=StrictUndefined,
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def html(report: Report) -> str:
    template = _environment().get_template("report.html.j2")
    return template.render(report=report, week_headers=WEEK_HEADERS)
