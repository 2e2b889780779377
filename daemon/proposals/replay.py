"""The whole pure pipeline in memory: events -> outages -> proposals, on a clock the caller moves.

Used by `micd backtest`, the quality benchmark and tests. The daemon runs the same steps, with the
store in place of the dicts here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from daemon.alerts.models import AlertEvent
from daemon.catalog.graph import Graph
from daemon.catalog.matching import Matcher
from daemon.correlation.engine import Changes, Correlator, Settings
from daemon.correlation.models import Outage, OutageState
from daemon.impact.models import Calendar
from daemon.impact.ruleset import Ruleset
from daemon.proposals.models import Proposal, ProposalState
from daemon.proposals.policy import Decision
from daemon.proposals.review import review


@dataclass(frozen=True)
class Tuning:
    """The correlation settings the pure core needs (the daemon builds this from CorrelationSettings)."""

    service_labels: tuple[str, ...] = ("service", "app", "app_kubernetes_io_name", "job", "namespace")
    fuzzy_min_score: float = 88.0
    window: timedelta = timedelta(minutes=10)
    max_hops: int = 2
    topology_labels: tuple[str, ...] = ("node", "cluster", "datacenter", "region")  # the most specific first
    close_grace: timedelta = timedelta(minutes=5)
    cause_lag: timedelta = timedelta(minutes=5)


def correlator_for(ruleset: Ruleset, tuning: Tuning) -> Correlator:
    return Correlator(
        graph=Graph(ruleset.catalog, max_hops=tuning.max_hops),
        matcher=Matcher(ruleset.catalog, labels=tuning.service_labels, fuzzy_min_score=tuning.fuzzy_min_score),
        settings=Settings(
            window=tuning.window,
            topology_labels=tuning.topology_labels,
            close_grace=tuning.close_grace,
            cause_lag=tuning.cause_lag,
        ),
    )


@dataclass
class MemoryBook:
    proposals: dict[str, Proposal] = field(default_factory=dict)  # by outage id

    def by_outage(self, outage_id: str) -> Proposal | None:
        return self.proposals.get(outage_id)

    def rejected_since(self, tenant: str, since: datetime) -> Sequence[Proposal]:
        return [
            p
            for p in self.proposals.values()
            if p.tenant == tenant and p.state is ProposalState.REJECTED and p.decided_at and p.decided_at >= since
        ]


@dataclass
class Replay:
    ruleset: Ruleset
    tuning: Tuning = field(default_factory=Tuning)
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    book: MemoryBook = field(default_factory=MemoryBook)
    decisions: list[Decision] = field(default_factory=list)
    outages: dict[str, Outage] = field(default_factory=dict)  # every outage ever seen, final state
    assignment: dict[tuple[str, str, datetime], str] = field(default_factory=dict)  # episode -> outage id
    recheck: dict[str, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.correlator = correlator_for(self.ruleset, self.tuning)

    def step(self, events: Sequence[AlertEvent], *, now: datetime) -> list[Decision]:
        changes = self.correlator.apply(events, now=now)
        return self._settle(changes, now)

    def tick(self, *, now: datetime) -> list[Decision]:
        """Close quiet outages, and re-review those whose sustained-duration rules are due."""
        changes = self.correlator.tick(now=now)
        due = [i for i, at in self.recheck.items() if at <= now and i in self.correlator.outages]
        for outage_id in due:
            del self.recheck[outage_id]
        extra = tuple(self.correlator.outages[i] for i in due)
        return self._settle(Changes(changes.outages + extra, changes.alerts, changes.unmatched), now)

    def next_due(self) -> datetime | None:
        closing = self.correlator.next_close()
        times = [*self.recheck.values(), *([closing] if closing else [])]
        return min(times) if times else None

    def _settle(self, changes: Changes, now: datetime) -> list[Decision]:
        for outage in changes.outages:
            self.outages[outage.id] = outage
        for alert in changes.alerts:
            if alert.outage_id is not None:
                self.assignment[(alert.tenant, alert.fingerprint, alert.starts_at)] = alert.outage_id
        touched = {o.id: o for o in changes.outages if o.id in self.correlator.outages}
        ended = [o for o in changes.outages if o.state is OutageState.CLOSED]
        result = review(
            outages=[*(self.correlator.outages[i] for i in sorted(touched)), *ended],
            alerts_of=self.correlator.members,
            ruleset=self.ruleset,
            calendars=self.calendars,
            book=self.book,
            now=now,
        )
        self.recheck.update(result.recheck_at)
        for decision in result.decisions:
            self.book.proposals[decision.proposal.outage_id] = decision.proposal
            self.correlator.mark_proposed(decision.proposal.outage_id, decision.proposal.id)
        self.decisions.extend(result.decisions)
        return list(result.decisions)

    def decide(self, outage_id: str, *, state: ProposalState, at: datetime) -> None:
        """A commander's decision, for tests and what-if runs."""
        current = self.book.proposals[outage_id]
        self.book.proposals[outage_id] = current.model_copy(update={"state": state, "decided_at": at})
