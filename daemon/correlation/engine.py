"""The incremental correlator: each alert event touches only the alerts indexed near it.

Two alert episodes of one tenant are linked when their START times are close (so a certificate alert
firing for hours glues nothing) and one of these holds (the spans are in `links`):
- their services are within max_hops along call edges, or one hosts the other; a cause (callee, host) may
  start up to the window before its effect but only `cause_lag` after it;
- they are episodes of the same fingerprint while its outage is still open (flapping).
An outage is a connected set of linked episodes; joining two outages merges them. An alert that names no
catalogued service (a node, an exporter) links only through its most specific topology value (node before
cluster) to alerts carrying that same value. If it is a host failure (a `host_failures` severity at a
`host_labels` place) the machine itself is down and it links like a cause, merging the outages of what runs
there; otherwise it attaches to
one outage and never merges, so a busy cluster glues nothing. An outage closes once all its alerts have
been resolved for `close_grace`; a closed outage never takes new alerts, and the next outage on its
services is linked to it as a recurrence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from sys import intern
from typing import TypeVar

from daemon.alerts.models import AlertEvent, TransitionKind
from daemon.catalog.graph import Graph
from daemon.catalog.matching import Matcher
from daemon.catalog.models import PLATFORM
from daemon.correlation.cause import probable_cause
from daemon.correlation.index import Key, TimeIndex
from daemon.correlation.links import Place, Reach, host_down, place
from daemon.correlation.models import Outage, OutageAlert, OutageState

B = TypeVar("B")


def _key(alert: OutageAlert) -> Key:
    return (alert.tenant, alert.fingerprint, alert.starts_at)


def _outage_id(tenant: str, fingerprint: str, starts_at: datetime) -> str:
    """Deterministic, so replaying the same events after a crash yields the same ids."""
    digest = hashlib.sha256(f"{tenant}|{fingerprint}|{starts_at.isoformat()}".encode()).hexdigest()
    return f"out-{digest[:16]}"


@dataclass(frozen=True)
class Changes:
    """What one step changed, as final snapshots: the shell stores exactly these."""

    outages: tuple[Outage, ...] = ()
    alerts: tuple[OutageAlert, ...] = ()
    unmatched: tuple[str, ...] = ()  # tenants of alerts that named no service, one per new episode


@dataclass(frozen=True)
class Settings:
    window: timedelta
    topology_labels: tuple[str, ...]  # the most specific first: node before cluster before region
    close_grace: timedelta = timedelta(minutes=5)
    recurrence_horizon: timedelta = timedelta(days=7)
    cause_lag: timedelta = timedelta(minutes=5)
    host_labels: tuple[str, ...] = ("node",)  # topology labels that name one machine, not a shared cluster
    host_failures: frozenset[str] = frozenset({"critical"})  # severities at which an alert naming no service is down


@dataclass
class _Batch:
    outages: set[str] = field(default_factory=set)
    alerts: set[Key] = field(default_factory=set)
    unmatched: list[str] = field(default_factory=list)
    ended: dict[str, Outage] = field(default_factory=dict)  # merged or closed: no longer held
    gone: dict[Key, OutageAlert] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)  # recomputed once per batch, not once per event


class Correlator:
    """Holds open outages and their episodes in memory, indexed; the store holds the same, durably."""

    def __init__(self, *, graph: Graph, matcher: Matcher, settings: Settings) -> None:
        self.graph = graph
        self.matcher = matcher
        self.settings = settings
        self.outages: dict[str, Outage] = {}
        self.alerts: dict[Key, OutageAlert] = {}
        self._members: dict[str, set[Key]] = {}
        self._by_service: TimeIndex[tuple[str, str]] = TimeIndex()  # members of open outages, by service
        self._by_place: TimeIndex[tuple[str, str, str]] = TimeIndex()  # matched members, by topology label value
        self._hosts: TimeIndex[tuple[str, str, str]] = TimeIndex()  # unmatched host-failure members, by place
        self._loose: dict[tuple[str, str, str], set[Key]] = {}  # unmatched alerts in no outage, by place
        self._reach = Reach(graph, window=settings.window, cause_lag=settings.cause_lag)
        # Episodes per alert: a tuple, not a set, since nearly every alert has one (a set costs 216 bytes).
        self._by_fingerprint: dict[tuple[str, str], tuple[Key, ...]] = {}
        self._tenants: set[str] = set()
        self._last_closed: dict[tuple[str, str], Outage] = {}
        self._quiet: set[str] = set()

    def use_rules(self, *, graph: Graph, matcher: Matcher) -> None:
        """New rules apply to alerts that arrive from now on; memberships already made stand."""
        self.graph, self.matcher = graph, matcher
        self._reach = Reach(graph, window=self.settings.window, cause_lag=self.settings.cause_lag)

    # -- restoring ---------------------------------------------------------------------------------

    def restore(self, outages: Iterable[Outage], alerts: Iterable[OutageAlert]) -> None:
        """Rebuild the indexes from stored open outages, their alerts, and recently closed outages."""
        for outage in outages:
            if outage.state is OutageState.OPEN:
                self.outages[outage.id] = outage
                self._members[outage.id] = set()
                if outage.quiet_since is not None:
                    self._quiet.add(outage.id)
            elif outage.state is OutageState.CLOSED:
                self._remember_closed(outage)
        for alert in alerts:
            if alert.outage_id is None or alert.outage_id in self.outages:
                self._index(alert)

    # -- events ------------------------------------------------------------------------------------

    def apply(self, events: Sequence[AlertEvent], *, now: datetime) -> Changes:
        batch = _Batch()
        for event in events:
            if event.kind is TransitionKind.FIRED:
                self._fired(event, now, batch)
            elif event.kind is TransitionKind.RESOLVED:
                self._resolved(event, now, batch)
        for outage_id in sorted(batch.dirty):
            if outage_id in self.outages:
                self._refresh(outage_id, now, batch)
        return self._done(batch)

    def _done(self, batch: _Batch) -> Changes:
        return Changes(
            outages=tuple(self.outages.get(i) or batch.ended[i] for i in sorted(batch.outages)),
            alerts=tuple(self.alerts.get(k) or batch.gone[k] for k in sorted(batch.alerts)),
            unmatched=tuple(batch.unmatched),
        )

    def tick(self, *, now: datetime) -> Changes:
        """Close outages that have stayed quiet for the grace period."""
        batch = _Batch()
        for outage_id in sorted(self._quiet):
            outage = self.outages[outage_id]
            if outage.quiet_since is not None and now - outage.quiet_since >= self.settings.close_grace:
                self._close(outage, now, batch)
        return self._done(batch)

    def _fired(self, event: AlertEvent, now: datetime, batch: _Batch) -> None:
        alert = event.alert
        tenant = intern(alert.tenant)  # repeated strings are held once, not once per active alert
        key: Key = (tenant, alert.fingerprint, alert.starts_at)
        if key in self.alerts:
            return  # handed over twice: already applied
        match = self.matcher.match(tenant, alert.labels)
        episode = OutageAlert(
            tenant=tenant,
            fingerprint=alert.fingerprint,
            starts_at=alert.starts_at,
            outage_id=None,
            alertname=intern(alert.name),
            severity=intern(alert.severity),
            service=match.service if match else None,
            match=intern(match.describe()) if match else "no catalogued service",
            score=match.score if match else None,
            topology={k: intern(alert.labels[k]) for k in self.settings.topology_labels if alert.labels.get(k)},
            received_at=event.received_at,
        )
        if match is None:
            batch.unmatched.append(alert.tenant)
        joined, weak, loose = self._neighbours(episode)
        batch.alerts.add(key)
        if episode.service is None and not joined and weak:
            joined = [min(weak, key=lambda o: (self.outages[o].started_at, o))]
        if episode.service is None and not joined:
            self._index(episode)  # an unmatched alert waits alone until a matched neighbour pulls it in
            return
        target = self._merge(joined, now, batch) if joined else self._open(episode, now)
        self._index(replace(episode, outage_id=target.id))
        for k in loose:
            self._attach(k, target.id, batch)
        self._link_platform(target.id, episode, now, batch)
        batch.dirty.add(target.id)

    def _resolved(self, event: AlertEvent, now: datetime, batch: _Batch) -> None:
        alert = event.alert
        for key in sorted(self._by_fingerprint.get((alert.tenant, alert.fingerprint), ())):
            held = self.alerts[key]
            if not held.firing or held.starts_at > alert.starts_at:
                continue
            batch.alerts.add(key)
            if held.outage_id is None:
                batch.gone[key] = replace(held, firing=False, resolved_at=event.received_at)
                self._forget(key)
                continue
            self.alerts[key] = replace(held, firing=False, resolved_at=event.received_at)
            batch.dirty.add(held.outage_id)

    # -- neighbourhood -----------------------------------------------------------------------------

    def _neighbours(self, episode: OutageAlert) -> tuple[list[str], set[str], list[Key]]:
        """Outages and loose alerts linked to `episode`, found through the index buckets it touches only.

        Returns the outages strongly linked (calls, hosting, a failed host, the same fingerprint: these
        merge), the outages weakly linked (an alert naming no service that is no host failure attaches to
        one), and the loose unmatched alerts at one of its places (pulled into whatever outage it joins).
        """
        tenant, start = episode.tenant, episode.starts_at
        window, lag = self.settings.window, self.settings.cause_lag
        strong: set[str] = set()
        weak: set[str] = set()
        loose: set[Key] = set()
        if episode.service is not None:
            for service, (before, after) in self._reach.of(tenant, episode.service):
                strong |= self._by_service.near((tenant, service), start - before, start + after)
            for label, value in episode.topology.items():  # an alert naming no service is a cause, like a host
                where = (tenant, label, value)
                strong |= self._hosts.near(where, start - window, start + lag)
                loose |= {k for k in self._loose.get(where, set()) if start - window <= k[2] <= start + lag}
        elif (spot := self._place(episode)) is not None:
            found = self._by_place.near((tenant, *spot), start - lag, start + window)
            (strong if self._is_host_failure(episode) else weak).update(found)
        for key in self._by_fingerprint.get((tenant, episode.fingerprint), ()):
            outage = self.alerts[key].outage_id
            if outage is not None:
                strong.add(outage)  # a flapping alert rejoins its still-open outage
        return sorted(strong), weak, sorted(loose)

    def _index(self, alert: OutageAlert) -> None:
        key = _key(alert)
        self.alerts[key] = alert
        self._tenants.add(alert.tenant)
        episodes = self._by_fingerprint.get((alert.tenant, alert.fingerprint), ())
        if key not in episodes:
            self._by_fingerprint[(alert.tenant, alert.fingerprint)] = (*episodes, key)
        spot = self._place(alert)
        if alert.outage_id is None:
            if alert.service is None and spot is not None:
                self._loose.setdefault((alert.tenant, *spot), set()).add(key)
            return
        self._members.setdefault(alert.outage_id, set()).add(key)
        if alert.service is not None:
            self._by_service.add((alert.tenant, alert.service), alert.outage_id, key)
            for label, value in alert.topology.items():
                self._by_place.add((alert.tenant, label, value), alert.outage_id, key)
        elif spot is not None and self._is_host_failure(alert):
            self._hosts.add((alert.tenant, *spot), alert.outage_id, key)

    def _place(self, alert: OutageAlert) -> Place | None:
        return place(alert.topology, self.settings.topology_labels)

    def _is_host_failure(self, alert: OutageAlert) -> bool:
        """A machine itself down (a node NotReady), not a warning about it nor anything cluster-wide."""
        spot, settings = self._place(alert), self.settings
        return alert.service is None and host_down(spot, alert.severity, settings.host_labels, settings.host_failures)

    def _forget(self, key: Key) -> None:
        """Drop an alert from the per-alert indexes; outage-level indexes are dropped with the outage."""
        alert = self.alerts.pop(key)
        alert_key = (alert.tenant, alert.fingerprint)
        rest = tuple(k for k in self._by_fingerprint.get(alert_key, ()) if k != key)
        if rest:
            self._by_fingerprint[alert_key] = rest
        else:
            self._by_fingerprint.pop(alert_key, None)
        if alert.outage_id is None:
            for label, value in alert.topology.items():
                _discard(self._loose, (alert.tenant, label, value), key)

    def _attach(self, key: Key, outage_id: str, batch: _Batch) -> None:
        """A loose unmatched alert joins an outage."""
        alert = self.alerts[key]
        for label, value in alert.topology.items():
            _discard(self._loose, (alert.tenant, label, value), key)
        self._index(replace(alert, outage_id=outage_id))
        batch.alerts.add(key)

    # -- outage lifecycle --------------------------------------------------------------------------

    def _open(self, episode: OutageAlert, now: datetime) -> Outage:
        previous = None
        if episode.service is not None:
            last = self._last_closed.get((episode.tenant, episode.service))
            if last is not None and last.closed_at and now - last.closed_at <= self.settings.recurrence_horizon:
                previous = last.id
        outage = Outage(
            id=_outage_id(episode.tenant, episode.fingerprint, episode.starts_at),
            tenant=episode.tenant,
            started_at=episode.starts_at,
            opened_at=now,
            updated_at=now,
            previous_outage=previous,
        )
        self.outages[outage.id] = outage
        self._members[outage.id] = set()
        return outage

    def _merge(self, ids: list[str], now: datetime, batch: _Batch) -> Outage:
        """The outage already proposed survives (one proposal per outage), else the earliest."""
        found = [self.outages[i] for i in ids]
        survivor = min(found, key=lambda o: (o.proposal_id is None, o.started_at, o.id))
        for other in found:
            if other.id == survivor.id:
                continue
            self._by_service.merge(other.id, survivor.id)
            self._by_place.merge(other.id, survivor.id)
            self._hosts.merge(other.id, survivor.id)
            moved = self._members.pop(other.id, set())
            self._members.setdefault(survivor.id, set()).update(moved)
            for key in moved:
                self.alerts[key] = replace(self.alerts[key], outage_id=survivor.id)
                batch.alerts.add(key)
            survivor = survivor.model_copy(
                update={
                    "linked_incident": survivor.linked_incident or other.linked_incident,
                    "incident_open": survivor.incident_open or other.incident_open,
                    "previous_outage": survivor.previous_outage or other.previous_outage,
                    "platform_outages": sorted({*survivor.platform_outages, *other.platform_outages}),
                }
            )
            del self.outages[other.id]
            self._quiet.discard(other.id)
            batch.outages.add(other.id)
            batch.ended[other.id] = other.model_copy(
                update={"state": OutageState.MERGED, "merged_into": survivor.id, "updated_at": now, "closed_at": now}
            )
        self.outages[survivor.id] = survivor
        return survivor

    def _link_platform(self, outage_id: str, episode: OutageAlert, now: datetime, batch: _Batch) -> None:
        """A tenant outage rides on the platform's own outage when a platform service it reaches is alerting;
        a platform alert links every tenant outage on services near it (each tenant through its own graph)."""
        if episode.service is None:
            return
        earliest, latest = episode.starts_at - self.settings.window, episode.starts_at + self.settings.window
        if episode.tenant != PLATFORM:
            links: set[str] = set()
            for service in {episode.service} | self.graph.near(episode.tenant, episode.service):
                links |= self._by_service.near((PLATFORM, service), earliest, latest)
            self._add_links(outage_id, links, now, batch)
            return
        for tenant in sorted(self._tenants - {PLATFORM}):
            for service in {episode.service} | self.graph.near(tenant, episode.service):
                for linked in self._by_service.near((tenant, service), earliest, latest):
                    self._add_links(linked, {outage_id}, now, batch)

    def _add_links(self, outage_id: str, links: set[str], now: datetime, batch: _Batch) -> None:
        outage = self.outages[outage_id]
        merged = sorted(set(outage.platform_outages) | links)
        if merged != outage.platform_outages:
            self.outages[outage_id] = outage.model_copy(update={"platform_outages": merged, "updated_at": now})
            batch.outages.add(outage_id)

    def _refresh(self, outage_id: str, now: datetime, batch: _Batch) -> None:
        """Recompute what an outage shows from its members; start or stop its quiet period."""
        outage = self.outages[outage_id]
        members = [self.alerts[k] for k in self._members[outage_id]]
        services = sorted({m.service for m in members if m.service is not None})
        firing = sum(1 for m in members if m.firing)
        starts = {s: min(m.starts_at for m in members if m.service == s) for s in services}
        cause, reasoning = probable_cause(self.graph, outage.tenant, starts)
        quiet_since = None if firing else (outage.quiet_since or now)
        self.outages[outage_id] = outage.model_copy(
            update={
                "services": services,
                "alert_count": len(members),
                "firing_count": firing,
                "started_at": min(m.starts_at for m in members),
                "probable_cause": cause,
                "probable_cause_reasoning": reasoning,
                "quiet_since": quiet_since,
                "updated_at": now,
            }
        )
        if quiet_since is None:
            self._quiet.discard(outage_id)
        else:
            self._quiet.add(outage_id)
        batch.outages.add(outage_id)

    def _close(self, outage: Outage, now: datetime, batch: _Batch) -> None:
        closed = outage.model_copy(update={"state": OutageState.CLOSED, "closed_at": now, "updated_at": now})
        for key in self._members.pop(outage.id, set()):
            batch.alerts.add(key)
            batch.gone[key] = self.alerts[key]
            self._forget(key)
        self._by_service.drop(outage.id)
        self._by_place.drop(outage.id)
        self._hosts.drop(outage.id)
        del self.outages[outage.id]
        self._quiet.discard(outage.id)
        self._remember_closed(closed)
        batch.ended[outage.id] = closed
        batch.outages.add(outage.id)

    def _remember_closed(self, outage: Outage) -> None:
        for service in outage.services:
            self._last_closed[(outage.tenant, service)] = outage

    # -- reading, and marks from outside ------------------------------------------------------------

    def next_close(self) -> datetime | None:
        """When the next quiet outage is due to close: the shell sleeps until then at most."""
        due = [o.quiet_since for i in self._quiet if (o := self.outages[i]).quiet_since is not None]
        return min(due) + self.settings.close_grace if due else None

    def members(self, outage_id: str) -> list[OutageAlert]:
        return sorted((self.alerts[k] for k in self._members.get(outage_id, ())), key=_key)

    def set_incident(self, outage_id: str, *, incident: str | None, open_: bool) -> None:
        """The command phase links an outage to its major incident; the store is the source of truth."""
        outage = self.outages.get(outage_id)
        if outage is not None and (outage.linked_incident, outage.incident_open) != (incident, open_):
            self.outages[outage_id] = outage.model_copy(update={"linked_incident": incident, "incident_open": open_})

    def mark_proposed(self, outage_id: str, proposal_id: str) -> None:
        outage = self.outages.get(outage_id)
        if outage is not None:
            self.outages[outage_id] = outage.model_copy(update={"proposal_id": proposal_id})


def _discard(index: dict[B, set[Key]], bucket: B, key: Key) -> None:
    keys = index.get(bucket)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[bucket]
