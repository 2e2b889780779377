"""Synthetic alert storms over random service graphs, with ground truth.

Each tenant gets a layered call graph (customer-facing front ends, middle services, data stores) on top
of a shared platform. Incidents start at a root service and spread to its callers within two hops;
platform incidents hit several tenants at once (one true incident per tenant, one for the platform).
Around them: concurrent unrelated incidents, flapping alerts (new episodes), label drift and typos,
exporter labels that name no service, long-lived alerts, and scattered single-alert noise (mostly warnings,
some critical). Pods run on nodes: pod-level alerts carry the `node` label, node-exporter warnings fire on
random nodes, and some incidents are a node failing (its own alert naming no service belongs to the incident,
with the alerts of pods on it). The node stream draws from its own random generator, so the rest of a storm
is the same for a seed whichever node features exist.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import yaml

from daemon.alerts.fingerprint import fingerprint
from daemon.alerts.models import Alert, AlertEvent, AlertStatus, TransitionKind

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
FRONT = ["web", "mobile-api", "partner-api", "storefront"]
MIDDLE = ["checkout", "orders", "payments", "inventory", "pricing", "search", "accounts", "shipping", "reviews"]
DATA = ["orders-db", "cache", "ledger-db", "search-index", "queue"]
PLATFORM = ["shared-postgres", "sso", "kafka", "object-store"]
ALERTNAMES = ["HighErrorRate", "HighLatency", "PodCrashLooping", "SLOBurnRate", "ProbeFailed", "SaturationHigh"]
POD_LEVEL = {"PodCrashLooping", "SaturationHigh"}  # alerts about one pod carry its node
NODES = 8  # per tenant cluster; each service has pods on two of them

Episode = tuple[str, str, datetime]  # tenant, fingerprint, starts_at


@dataclass
class Service:
    name: str
    tier: int
    customer_facing: bool
    depends_on: list[str] = field(default_factory=list)


@dataclass
class Storm:
    catalog: dict[str, list[Service]]  # tenant (or "platform") -> services
    events: list[AlertEvent]
    truth: dict[Episode, str]  # episode -> incident id, or a unique noise id
    majors: dict[str, tuple[str, datetime]]  # incident id -> (tenant, start) for incidents that deserve a proposal

    def rules_files(self, impact: str) -> dict[str, str]:
        files = {"impact.yaml": impact}
        for tenant, services in self.catalog.items():
            doc = {
                "kind": "catalog",
                "tenant": tenant,
                "services": [
                    {"name": s.name, "tier": s.tier, "customer_facing": s.customer_facing, "depends_on": s.depends_on}
                    for s in services
                ],
            }
            files[f"{tenant}.yaml"] = yaml.safe_dump(doc, sort_keys=False)
        return files


def _names(rng: random.Random, words: list[str], count: int) -> list[str]:
    pool = [w if i == 0 else f"{w}-{i + 1}" for i in range(1 + count // len(words)) for w in words]
    return rng.sample(pool, count)


def _graph(rng: random.Random, size: int) -> list[Service]:
    fronts = [Service(n, 1, True) for n in _names(rng, FRONT, 3)]
    middle = [Service(n, rng.choice([1, 2, 2, 3]), False) for n in _names(rng, MIDDLE, max(2, size * 6 // 10))]
    data = [Service(n, rng.choice([2, 3, 4]), False) for n in _names(rng, DATA, max(1, size * 3 // 10))]
    for s in fronts:
        s.depends_on = [m.name for m in rng.sample(middle, 2)]
    for i, s in enumerate(middle):
        lower = middle[i + 1 :]
        s.depends_on = [d.name for d in rng.sample(data, 1)]
        if lower and rng.random() < 0.4:
            s.depends_on.append(rng.choice(lower).name)
        if rng.random() < 0.3:
            s.depends_on.append(rng.choice(PLATFORM))
    return fronts + middle + data


def _drift(rng: random.Random, name: str) -> dict[str, str]:
    """Labels that name the service the ways real exporters do, with some typos."""
    roll = rng.random()
    value = name
    if roll < 0.08:
        value = name.replace("-", "_")
    elif roll < 0.14:
        value = f"svc-{name}"
    elif roll < 0.18 and len(name) > 6:
        i = rng.randrange(1, len(name) - 1)
        value = name[:i] + name[i + 1 :]
    label = rng.choices(["service", "app", "app_kubernetes_io_name", "namespace"], [50, 25, 15, 10])[0]
    labels = {label: value}
    if rng.random() < 0.3:
        labels["job"] = rng.choice(["kube-state-metrics", "node-exporter", "blackbox"])
    return labels


@dataclass
class _Builder:
    rng: random.Random
    nodes: random.Random  # node labels and node incidents
    placement: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (tenant, service) -> nodes
    events: list[tuple[datetime, TransitionKind, Alert]] = field(default_factory=list)
    truth: dict[Episode, str] = field(default_factory=dict)
    serial: int = 0

    def alert(self, tenant: str, labels: dict[str, str], start: datetime, end: datetime | None, truth: str) -> None:
        """A new alert episode; the same labels again (with `instance`) are the same alert firing again."""
        if "instance" not in labels:
            self.serial += 1
            labels = {**labels, "instance": f"i-{self.serial}"}
        full = {"tenant": tenant, "cluster": f"prod-{tenant}", **labels}
        fp = fingerprint(full)
        fired = Alert(tenant=tenant, fingerprint=fp, status=AlertStatus.FIRING, labels=full, starts_at=start)
        self.events.append((start, TransitionKind.FIRED, fired))
        self.truth[(tenant, fp, start)] = truth
        if end is not None:
            gone = fired.model_copy(update={"status": AlertStatus.RESOLVED, "ends_at": end})
            self.events.append((end, TransitionKind.RESOLVED, gone))

    def place(self, tenant: str, services: list[Service]) -> None:
        for service in services:
            self.placement[(tenant, service.name)] = [_node(tenant, k) for k in self.nodes.sample(range(NODES), 2)]

    def node_of(self, tenant: str, service: str) -> str:
        return self.nodes.choice(self.placement.get((tenant, service)) or [_node(tenant, 0)])

    def service_alerts(self, tenant: str, service: str, start: datetime, truth: str, node: str | None = None) -> None:
        for name in self.rng.sample(ALERTNAMES, self.rng.randint(1, 3)):
            severity = self.rng.choice(["critical", "critical", "warning"])
            self.serial += 1
            labels = {
                "alertname": name,
                "severity": severity,
                "instance": f"i-{self.serial}",
                **_drift(self.rng, service),
            }
            if name in POD_LEVEL:
                labels["node"] = node or self.node_of(tenant, service)
            begin = start + timedelta(seconds=self.rng.uniform(0, 240))
            end = begin + timedelta(minutes=self.rng.uniform(15, 45))
            if self.rng.random() < 0.2:  # flapping: resolves, then fires again as a new episode
                dip = begin + timedelta(minutes=self.rng.uniform(2, 4))
                self.alert(tenant, labels, begin, dip, truth)
                begin = dip + timedelta(minutes=self.rng.uniform(1, 3))
            self.alert(tenant, labels, begin, end, truth)


def _node(tenant: str, k: int) -> str:
    return f"prod-{tenant}-node-{k + 1}"


def _callers(services: list[Service], root: str, rng: random.Random) -> list[str]:
    """The root and, with some probability each, the services calling it within two hops."""
    hit = [root]
    frontier = [root]
    for _ in range(2):
        frontier = [s.name for s in services if set(s.depends_on) & set(frontier) and rng.random() < 0.75]
        hit += [f for f in frontier if f not in hit]
    return hit


def generate(
    *, seed: int = 7, tenants: int = 3, hours: float = 12.0, incidents_per_tenant: int = 8, services: int = 24
) -> Storm:
    rng = random.Random(seed)
    names = [f"t{i + 1}" for i in range(tenants)]
    catalog = {t: _graph(rng, services) for t in names}
    catalog["platform"] = [Service(n, 1 if n in ("shared-postgres", "sso") else 2, False) for n in PLATFORM]
    b = _Builder(rng, random.Random(f"nodes-{seed}"))
    for tenant in names:
        b.place(tenant, catalog[tenant])
    span = timedelta(hours=hours)
    majors: dict[str, tuple[str, datetime]] = {}
    facing = {t: {s.name for s in catalog[t] if s.customer_facing and s.tier == 1} for t in names}

    def incident(tenant: str, root: str, start: datetime, ident: str) -> None:
        hit = _callers(catalog[tenant], root, rng)
        for offset, service in enumerate(hit):
            b.service_alerts(tenant, service, start + timedelta(seconds=60 * min(offset, 3)), ident)
        if len(hit) >= 2 and set(hit) & facing[tenant]:
            majors[ident] = (tenant, start)

    def node_incident(tenant: str, ident: str) -> None:
        """A node goes down: the node's own alert names no service; services with pods there follow."""
        k = b.nodes.randrange(NODES)
        node = _node(tenant, k)
        start = START + timedelta(seconds=b.nodes.uniform(0, span.total_seconds()))
        labels = {"alertname": "KubeNodeNotReady", "severity": "critical", "job": "kube-state-metrics", "node": node}
        b.alert(tenant, labels, start, start + timedelta(minutes=b.nodes.uniform(15, 40)), ident)
        hit = [s.name for s in catalog[tenant] if node in b.placement.get((tenant, s.name), ())]
        hit = [h for h in hit if b.nodes.random() < 0.8]
        for service in hit:
            b.service_alerts(tenant, service, start + timedelta(seconds=b.nodes.uniform(20, 120)), ident, node=node)
        if len(hit) >= 2 and set(hit) & facing[tenant]:
            majors[ident] = (tenant, start)

    count = 0
    for tenant in names:
        roots = [s.name for s in catalog[tenant] if not s.customer_facing]
        for _ in range(incidents_per_tenant):
            count += 1
            start = START + timedelta(seconds=rng.uniform(0, span.total_seconds()))
            incident(tenant, rng.choice(roots), start, f"inc-{count}")
    for _ in range(max(1, int(hours / 4))):  # shared platform failures
        count += 1
        root = rng.choice([p for p in PLATFORM if any(root_dep(catalog[t], p) for t in names)] or PLATFORM)
        start = START + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        b.service_alerts("platform", root, start, f"inc-{count}")
        for tenant in names:
            users = [s.name for s in catalog[tenant] if root in s.depends_on]
            if users:
                count += 1
                incident(tenant, users[0], start + timedelta(minutes=1), f"inc-{count}")
    for tenant in names:
        own = [s.name for s in catalog[tenant]]
        for i in range(int(hours * 3)):  # single-alert noise
            start = START + timedelta(seconds=rng.uniform(0, span.total_seconds()))
            labels = {"alertname": rng.choice(ALERTNAMES), "severity": "warning", **_drift(rng, rng.choice(own))}
            if b.nodes.random() < 0.15:
                labels["severity"] = "critical"
            b.alert(tenant, labels, start, start + timedelta(minutes=rng.uniform(3, 60)), f"noise-{tenant}-{i}")
        for i in range(3):  # long-lived: firing from before the storm to after it
            labels = {"alertname": "CertificateExpiringSoon", "severity": "warning", "service": rng.choice(own)}
            b.alert(tenant, labels, START - timedelta(hours=rng.uniform(2, 48)), None, f"long-{tenant}-{i}")
        for i in range(int(hours)):  # exporter alerts that name no service
            start = START + timedelta(seconds=rng.uniform(0, span.total_seconds()))
            labels = {"alertname": "NodeFilesystemAlmostFull", "severity": "warning", "job": "node-exporter"}
            labels["node"] = _node(tenant, b.nodes.randrange(NODES))
            b.alert(tenant, labels, start, start + timedelta(minutes=rng.uniform(10, 90)), f"node-{tenant}-{i}")
    for tenant in names:  # last, so the storm's other parts stay the same for a seed
        for _ in range(max(1, int(hours / 12))):  # a node fails: its pods' services alert with it
            count += 1
            node_incident(tenant, f"inc-{count}")
    b.events.sort(key=lambda e: (e[0], e[1] != TransitionKind.FIRED))
    events = [
        AlertEvent(id=i, kind=kind, alert=alert, received_at=max(at, START - timedelta(days=3)))
        for i, (at, kind, alert) in enumerate(b.events, 1)
    ]
    return Storm(catalog=catalog, events=events, truth=b.truth, majors=majors)


def root_dep(services: list[Service], platform_service: str) -> bool:
    return any(platform_service in s.depends_on for s in services)
