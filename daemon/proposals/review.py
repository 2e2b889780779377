"""One review pass over changed outages: facts, impact rules, policy. Shared by the daemon and the backtest."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.correlation.models import Outage, OutageAlert, OutageState
from daemon.impact.evaluate import evaluate
from daemon.impact.models import Calendar
from daemon.impact.ruleset import Ruleset
from daemon.proposals.evidence import evidence, outage_facts
from daemon.proposals.models import Proposal
from daemon.proposals.policy import Decision, closed, decide


class ProposalBook(Protocol):
    """Where existing proposals are looked up: the store inside a transaction, or a dict in a backtest."""

    def by_outage(self, outage_id: str) -> Proposal | None: ...

    def rejected_since(self, tenant: str, since: datetime) -> Sequence[Proposal]: ...


@dataclass(frozen=True)
class Review:
    decisions: tuple[Decision, ...]
    recheck_at: dict[str, datetime]  # outage id -> when a sustained-duration rule may start to hold


def review(
    *,
    outages: Iterable[Outage],
    alerts_of: Callable[[str], Sequence[OutageAlert]],
    ruleset: Ruleset,
    calendars: Mapping[str, Calendar],
    book: ProposalBook,
    now: datetime,
) -> Review:
    decisions: list[Decision] = []
    recheck: dict[str, datetime] = {}
    default = Calendar()
    for outage in outages:
        if outage.state is OutageState.CLOSED:
            ended = closed(outage=outage, existing=book.by_outage(outage.id), now=now)
            decisions += [ended] if ended else []
            continue
        if outage.state is not OutageState.OPEN:
            continue
        alerts = alerts_of(outage.id)
        facts = outage_facts(
            outage=outage,
            alerts=alerts,
            catalog=ruleset.catalog,
            calendar=calendars.get(outage.tenant, default),
            now=now,
        )
        outcome = evaluate(ruleset.book, facts, now=now)
        if outcome.recheck_at is not None:
            recheck[outage.id] = outcome.recheck_at
        found = evidence(outage=outage, alerts=alerts, catalog=ruleset.catalog, verdict=outcome.verdict, facts=facts)
        decision = decide(
            outage=outage,
            verdict=outcome.verdict,
            evidence=found,
            existing=book.by_outage(outage.id),
            rejections=book.rejected_since(outage.tenant, now - ruleset.book.cooldown),
            cooldown=ruleset.book.cooldown,
            now=now,
        )
        if decision is not None:
            decisions.append(decision)
    return Review(decisions=tuple(decisions), recheck_at=recheck)
