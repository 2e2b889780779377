"""An outage's facts and evidence, built from its alerts and the catalogue: what a proposal explains itself with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from daemon.catalog.models import Catalog
from daemon.correlation.models import Outage, OutageAlert
from daemon.impact.facts import in_business_hours
from daemon.impact.models import Calendar, Facts, Verdict
from daemon.proposals.models import AlertRef, Evidence, ServiceEvidence

MAX_ALERT_REFS = 500


def outage_facts(
    *, outage: Outage, alerts: Sequence[OutageAlert], catalog: Catalog, calendar: Calendar, now: datetime
) -> Facts:
    entries = [(name, catalog.get(outage.tenant, name)) for name in outage.services]
    tiers = [e.tier for _, e in entries if e is not None]
    facing = sorted(name for name, e in entries if e is not None and e.customer_facing)
    return Facts(
        tenant=outage.tenant,
        services=list(outage.services),
        service_count=len(outage.services),
        highest_tier=min(tiers) if tiers else None,
        customer_facing=bool(facing),
        customer_facing_services=facing,
        regulated=sorted({tag for _, e in entries if e is not None for tag in e.regulated}),
        severities=sorted({a.severity for a in alerts if a.severity}),
        alert_count=len(alerts),
        firing_count=sum(1 for a in alerts if a.firing),
        started_at=outage.started_at,
        duration_minutes=round(max(0.0, (now - outage.started_at).total_seconds()) / 60.0, 2),
        business_hours=in_business_hours(calendar, now),
        probable_cause=outage.probable_cause,
        probable_cause_reasoning=outage.probable_cause_reasoning,
    )


def evidence(
    *, outage: Outage, alerts: Sequence[OutageAlert], catalog: Catalog, verdict: Verdict | None, facts: Facts
) -> Evidence:
    services = []
    for name in outage.services:
        entry = catalog.get(outage.tenant, name)
        services.append(
            ServiceEvidence(
                name=name,
                tier=entry.tier if entry else None,
                customer_facing=bool(entry and entry.customer_facing),
                regulated=list(entry.regulated) if entry else [],
                cmdb_ci=entry.cmdb_ci if entry else None,
                business_service=entry.business_service if entry else None,
                alerts=sum(1 for a in alerts if a.service == name),
            )
        )
    ordered = sorted(alerts, key=lambda a: (a.starts_at, a.fingerprint))[:MAX_ALERT_REFS]
    return Evidence(
        services=services,
        alerts=[
            AlertRef(
                fingerprint=a.fingerprint,
                alertname=a.alertname,
                service=a.service,
                match=a.match,
                severity=a.severity,
                starts_at=a.starts_at,
            )
            for a in ordered
        ],
        facts=facts.model_dump(mode="json"),
        matched_conditions=list(verdict.matched_conditions) if verdict else [],
        probable_cause=outage.probable_cause,
        probable_cause_reasoning=outage.probable_cause_reasoning,
    )


def same_story(a: Evidence, b: Evidence) -> bool:
    """Equal but for the facts that move with the clock alone (duration, business hours)."""
    return a.model_copy(update={"facts": {}}) == b.model_copy(update={"facts": {}})
