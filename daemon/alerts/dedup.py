"""Whether a sighting changes what we hold. Alertmanager resends whole groups, so most sightings change nothing."""

from __future__ import annotations

from daemon.alerts.models import Alert, AlertStatus, TransitionKind


def transition(held: Alert | None, seen: Alert) -> TransitionKind | None:
    """The change `seen` makes to `held`, or None for a resend or a stale, out-of-order sighting."""
    if held is None:
        return TransitionKind.FIRED if seen.status is AlertStatus.FIRING else TransitionKind.RESOLVED
    if seen.starts_at < held.starts_at:
        return None
    new_episode = seen.starts_at > held.starts_at
    if seen.status is AlertStatus.FIRING:
        if new_episode:
            return TransitionKind.FIRED
        if held.status is AlertStatus.RESOLVED:
            return None
        if seen.annotations != held.annotations or seen.generator_url != held.generator_url:
            return TransitionKind.UPDATED
        return None
    if held.status is AlertStatus.FIRING or new_episode:
        return TransitionKind.RESOLVED
    return None
