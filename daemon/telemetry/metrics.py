"""Every micd_* metric, registered once, per application (no module singletons: tests run many apps).

Labels stay bounded: tenant, rule, severity, decision, outcome, source, reason, topic, partition, operation.
Never fingerprints or incident ids. docs/metrics.md is the catalogue for people.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
MINUTES_BUCKETS = tuple(60.0 * m for m in (1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 1440))
HOURS_BUCKETS = tuple(3600.0 * h for h in (0.25, 0.5, 1, 2, 4, 8, 12, 24, 48, 96, 168))

Refresher = Callable[[], Awaitable[None]]


class Metrics:
    def __init__(self) -> None:
        # *_created series double the scrape size and no dashboard reads them.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        r = self.registry = CollectorRegistry(auto_describe=True)
        self._refreshers: list[Refresher] = []
        self._mirrored: dict[int, set[str]] = {}

        # ingestion
        self.alerts_received = Counter(
            "micd_alerts_received", "Alert sightings accepted", ["source", "tenant"], registry=r
        )
        self.alerts_rejected = Counter(
            "micd_alerts_rejected", "Alert payloads refused", ["source", "reason"], registry=r
        )
        self.alerts_active = Gauge("micd_alerts_active", "Firing alerts held", ["tenant"], registry=r)
        self.ingest_seconds = Histogram(
            "micd_ingest_seconds",
            "Receipt to durable store, per request or message",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        # correlation and rules
        self.alerts_unmatched = Counter(
            "micd_alerts_unmatched", "Alerts that named no catalogued service", ["tenant"], registry=r
        )
        self.outages_active = Gauge("micd_outages_active", "Open outages", ["tenant"], registry=r)
        self.correlation_seconds = Histogram(
            "micd_correlation_seconds", "Alert received to outage updated", buckets=LATENCY_BUCKETS, registry=r
        )
        self.proposals = Counter(
            "micd_proposals", "Major-incident proposals made", ["tenant", "rule", "mode"], registry=r
        )
        self.rules_reloads = Counter("micd_rules_reloads", "Rule and catalogue reloads", ["outcome"], registry=r)
        self.rules_loaded = Gauge("micd_rules_last_reload_success", "1 if the last rules reload succeeded", registry=r)
        # ServiceNow
        self.servicenow_requests = Counter(
            "micd_servicenow_requests", "ServiceNow calls", ["operation", "outcome"], registry=r
        )
        self.servicenow_request_seconds = Histogram(
            "micd_servicenow_request_seconds",
            "ServiceNow call latency",
            ["operation"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.servicenow_outbox_depth = Gauge(
            "micd_servicenow_outbox_depth", "Deliveries waiting for ServiceNow", registry=r
        )
        self.proposal_decisions = Counter(
            "micd_proposal_decisions", "Commander decisions on proposals", ["tenant", "decision"], registry=r
        )
        self.time_to_propose = Histogram(
            "micd_time_to_propose_seconds",
            "First alert of an outage to its proposal",
            ["tenant"],
            buckets=MINUTES_BUCKETS,
            registry=r,
        )
        self.time_to_decide = Histogram(
            "micd_time_to_decide_seconds",
            "Proposal to the commander's decision",
            ["tenant"],
            buckets=MINUTES_BUCKETS,
            registry=r,
        )
        # Kafka
        self.kafka_messages = Counter("micd_kafka_messages", "Kafka records consumed", ["topic", "outcome"], registry=r)
        self.kafka_consumer_lag = Gauge(
            "micd_kafka_consumer_lag", "High-water mark minus position", ["topic", "partition"], registry=r
        )
        self.kafka_dead_letters = Counter(
            "micd_kafka_dead_letters", "Records sent to the dead-letter topic", ["topic"], registry=r
        )
        # command phase
        self.major_incidents_active = Gauge(
            "micd_major_incidents_active", "Declared and not yet resolved", ["tenant"], registry=r
        )
        self.major_incident_mttr = Histogram(
            "micd_major_incident_mttr_seconds",
            "Declared to resolved",
            ["tenant"],
            buckets=HOURS_BUCKETS,
            registry=r,
        )
        self.status_updates = Counter("micd_status_updates", "Status updates sent", ["tenant", "on_time"], registry=r)
        self.status_update_compliance = Gauge(
            "micd_status_update_compliance_ratio", "Share of updates sent on time", ["tenant"], registry=r
        )
        self.status_updates_overdue = Gauge(
            "micd_status_updates_overdue", "Incidents whose status update is overdue", ["tenant"], registry=r
        )
        self.mitigation_actions = Gauge(
            "micd_mitigation_actions", "Mitigation actions by state", ["tenant", "state"], registry=r
        )
        self.repeat_major_incidents = Counter(
            "micd_repeat_major_incidents", "Major incidents linked to a predecessor", ["tenant"], registry=r
        )
        self.major_incidents_declared = Counter(
            "micd_major_incidents_declared", "Major incidents declared", ["tenant"], registry=r
        )
        self.pir_actions_open = Gauge("micd_pir_actions_open", "Open review actions", ["tenant"], registry=r)
        self.pir_actions_overdue = Gauge("micd_pir_actions_overdue", "Review actions past due", ["tenant"], registry=r)
        self.notifications = Counter(
            "micd_notifications", "Notifications delivered", ["tenant", "channel_kind", "outcome"], registry=r
        )

    def init_tenant(self, tenant: str) -> None:
        """Export zeros for a configured tenant from the start: Prometheus' increase() cannot see the first
        event of a series that appears with it, so KPI rates would miss every tenant's first incident."""
        for family in (
            self.major_incidents_declared,
            self.repeat_major_incidents,
            self.major_incident_mttr,
            self.time_to_propose,
            self.time_to_decide,
            self.alerts_unmatched,
        ):
            family.labels(tenant=tenant)
        for decision in ("accepted", "rejected", "canceled"):
            self.proposal_decisions.labels(tenant=tenant, decision=decision)
        for on_time in ("true", "false"):
            self.status_updates.labels(tenant=tenant, on_time=on_time)

    def mirror(self, gauge: Gauge, counts: Mapping[str, float]) -> None:
        """Set a per-tenant gauge from the store: a tenant it showed before that has nothing now reads 0, since a
        vanished series shows as "no data" in Grafana and breaks alerts on it."""
        seen = self._mirrored.setdefault(id(gauge), set())
        seen.update(counts)
        for tenant in seen:
            gauge.labels(tenant=tenant).set(counts.get(tenant, 0))

    def on_scrape(self, refresher: Refresher) -> None:
        """Gauges that mirror stored state are recomputed from the store at each scrape."""
        self._refreshers.append(refresher)

    async def render(self) -> bytes:
        for refresh in self._refreshers:
            await refresh()
        return generate_latest(self.registry)
