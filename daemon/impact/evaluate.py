"""Evaluate impact rules on an outage's facts: which rule fires, on which conditions, with what text.

Pure: the caller passes `now`. When a rule waits only on `sustained_minutes`, the outcome says when to
look again, so the shell can re-evaluate a quiet outage without polling.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from daemon.impact.models import Facts, ImpactFile, Mode, Rule, Verdict

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True)


def compile_template(text: str) -> Template:
    """Raises jinja2.TemplateSyntaxError with the template line; callers report it against the rule file."""
    return _ENV.from_string(text)


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    mode: Mode
    title: Template
    business_impact: Template


@dataclass(frozen=True)
class RuleBook:
    rules: tuple[CompiledRule, ...] = ()
    cooldown: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict | None
    recheck_at: datetime | None = None


def build(files: list[ImpactFile]) -> RuleBook:
    """Compile every file's rules in order; the longest cooldown declared applies."""
    rules = tuple(
        CompiledRule(
            rule=rule,
            mode=rule.mode or file.mode,
            title=compile_template(rule.title),
            business_impact=compile_template(rule.business_impact),
        )
        for file in files
        for rule in file.rules
    )
    cooldown = max((f.cooldown_minutes for f in files), default=60.0)
    return RuleBook(rules=rules, cooldown=timedelta(minutes=cooldown))


def _check(rule: Rule, facts: Facts) -> tuple[list[str], str | None, float | None]:
    """Conditions met (as sentences), the first one failing, and minutes still to wait if only time is missing."""
    when = rule.when
    met: list[str] = []
    checks: list[tuple[bool, str, str]] = []
    if when.tenants is not None:
        checks.append((facts.tenant in when.tenants, f"tenant {facts.tenant} in {when.tenants}", "tenant"))
    if when.min_services is not None:
        ok = facts.service_count >= when.min_services
        checks.append((ok, f"{facts.service_count} services alerting (at least {when.min_services})", "services"))
    if when.max_tier is not None:
        ok = facts.highest_tier is not None and facts.highest_tier <= when.max_tier
        checks.append((ok, f"highest tier {facts.highest_tier} (tier {when.max_tier} or more critical)", "tier"))
    if when.customer_facing is not None:
        ok = facts.customer_facing is when.customer_facing
        what = ", ".join(facts.customer_facing_services) or "none"
        checks.append((ok, f"customer-facing services: {what}", "customer_facing"))
    if when.regulated is not None:
        hit = sorted(set(facts.regulated) & set(when.regulated))
        checks.append((bool(hit), f"regulated scope {', '.join(hit)}", "regulated"))
    if when.severity is not None:
        hit = sorted(set(facts.severities) & set(when.severity))
        checks.append((bool(hit), f"severity {', '.join(hit)}", "severity"))
    if when.business_hours is not None:
        ok = facts.business_hours is when.business_hours
        inside = "inside" if facts.business_hours else "outside"
        checks.append((ok, f"{inside} business hours", "business_hours"))
    for ok, sentence, name in checks:
        if not ok:
            return met, name, None
        met.append(sentence)
    if when.sustained_minutes is not None:
        if facts.duration_minutes < when.sustained_minutes:
            return met, "sustained", when.sustained_minutes - facts.duration_minutes
        met.append(f"sustained {facts.duration_minutes:g} min (at least {when.sustained_minutes:g})")
    return met, None, None


def evaluate(book: RuleBook, facts: Facts, *, now: datetime) -> Outcome:
    """The most severe matching rule (impact, then urgency, then file order) wins."""
    best: tuple[tuple[int, int, int], CompiledRule, list[str]] | None = None
    wait: float | None = None
    for index, compiled in enumerate(book.rules):
        met, failed, minutes = _check(compiled.rule, facts)
        if failed == "sustained" and minutes is not None and facts.firing_count:
            wait = minutes if wait is None else min(wait, minutes)
        if failed is not None:
            continue
        rank = (compiled.rule.impact, compiled.rule.urgency, index)
        if best is None or rank < best[0]:
            best = (rank, compiled, met)
    recheck = None if wait is None else now + timedelta(minutes=wait)
    if best is None:
        return Outcome(verdict=None, recheck_at=recheck)
    _, compiled, met = best
    context = facts.model_dump(mode="json")
    try:
        title = compiled.title.render(context).strip()
        business_impact = compiled.business_impact.render(context).strip()
    except TemplateError as exc:  # validated at load; a fact missing at runtime must not drop the proposal
        title = f"{facts.tenant}: outage affecting {facts.service_count} service(s)"
        business_impact = f"(template of rule {compiled.rule.name} failed: {exc})"
    verdict = Verdict(
        rule=compiled.rule.name,
        mode=compiled.mode,
        impact=compiled.rule.impact,
        urgency=compiled.rule.urgency,
        title=title[:160],
        business_impact=business_impact,
        matched_conditions=met,
        facts=context,
    )
    return Outcome(verdict=verdict, recheck_at=recheck)
