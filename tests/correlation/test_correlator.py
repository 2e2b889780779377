"""The correlator on the shipped catalogue, moved through time by hand (FakeClock style: `now` is passed)."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.alerts.models import Alert
from daemon.correlation.models import OutageState
from daemon.proposals.replay import Replay
from tests.correlation.factory import T0, Feed, make_alert, minutes, shipped

RULES = shipped()


def groups(replay: Replay) -> set[frozenset[str]]:
    """Open outages as sets of alert names: what a person would call the grouping."""
    found: dict[str, set[str]] = {}
    for alert in replay.correlator.alerts.values():
        if alert.outage_id is not None:
            found.setdefault(alert.outage_id, set()).add(alert.alertname)
    return {frozenset(v) for v in found.values()}


def fire_all(replay: Replay, feed: Feed, alerts: list[Alert]) -> None:
    for alert in alerts:
        replay.step([feed.fire(alert)], now=alert.starts_at)


def test_services_two_call_hops_apart_join_one_outage() -> None:
    replay, feed = Replay(RULES), Feed()
    fire_all(
        replay,
        feed,
        [
            make_alert("acme", "PayErr", service="payments-api"),
            make_alert("acme", "ShopDown", service="web-shop", start=minutes(2)),
        ],
    )
    assert groups(replay) == {frozenset({"PayErr", "ShopDown"})}
    (outage,) = replay.correlator.outages.values()
    assert outage.probable_cause == "payments-api"
    assert "web-shop" in outage.probable_cause_reasoning


def test_siblings_of_a_silent_dependency_stay_apart_until_a_bridge_merges_them() -> None:
    replay, feed = Replay(RULES), Feed()
    fire_all(
        replay,
        feed,
        [make_alert("acme", "CartErr", service="cart"), make_alert("acme", "CatalogErr", service="catalog-api")],
    )
    assert groups(replay) == {frozenset({"CartErr"}), frozenset({"CatalogErr"})}
    before = set(replay.correlator.outages)
    fire_all(replay, feed, [make_alert("acme", "ShopDown", service="web-shop", start=minutes(1))])
    assert groups(replay) == {frozenset({"CartErr", "CatalogErr", "ShopDown"})}
    (survivor,) = replay.correlator.outages
    (absorbed,) = before - {survivor}
    assert replay.outages[absorbed].state is OutageState.MERGED
    assert replay.outages[absorbed].merged_into == survivor


def test_same_moment_unrelated_failures_are_two_outages() -> None:
    replay, feed = Replay(RULES), Feed()
    fire_all(
        replay,
        feed,
        [make_alert("acme", "SearchSlow", service="search"), make_alert("acme", "ReportErr", service="reporting")],
    )
    assert len(groups(replay)) == 2


def test_a_long_lived_alert_glues_nothing() -> None:
    replay, feed = Replay(RULES), Feed()
    fire_all(
        replay,
        feed,
        [
            make_alert("acme", "CertExpiry", service="checkout", start=T0 - timedelta(hours=3)),
            make_alert("acme", "PayErr", service="payments-api"),
            make_alert("acme", "ShopDown", service="web-shop", start=minutes(1)),
        ],
    )
    assert groups(replay) == {frozenset({"CertExpiry"}), frozenset({"PayErr", "ShopDown"})}


def test_a_closed_outage_takes_nothing_and_its_recurrence_links_to_it() -> None:
    replay, feed = Replay(RULES), Feed()
    first = make_alert("acme", "PayErr", service="payments-api")
    fire_all(replay, feed, [first])
    (old,) = replay.correlator.outages
    replay.step([feed.resolve(first, minutes(10))], now=minutes(10))
    assert replay.correlator.outages[old].quiet_since == minutes(10)
    replay.tick(now=minutes(16))
    assert replay.outages[old].state is OutageState.CLOSED
    again = first.model_copy(update={"starts_at": minutes(20)})
    replay.step([feed.fire(again)], now=minutes(20))
    (new,) = replay.correlator.outages
    assert new != old
    assert replay.correlator.outages[new].previous_outage == old


def test_a_flapping_alert_rejoins_its_outage_during_the_grace_period() -> None:
    replay, feed = Replay(RULES), Feed()
    flappy = make_alert("acme", "PayErr", service="payments-api")
    fire_all(replay, feed, [flappy, make_alert("acme", "ChkErr", service="checkout", start=minutes(1))])
    replay.step([feed.resolve(flappy, minutes(3))], now=minutes(3))
    replay.step([feed.fire(flappy.model_copy(update={"starts_at": minutes(25)}))], now=minutes(25))
    assert len(replay.correlator.outages) == 1


def test_each_tenant_gets_its_own_outage_linked_to_the_platform_outage() -> None:
    for order in (0, 1):
        replay, feed = Replay(RULES), Feed()
        platform = [make_alert("platform", "PgDown", service="postgres-shared")]
        tenants = [
            make_alert("acme", "ChkErr", service="checkout", start=minutes(1)),
            make_alert("globex", "ApptErr", service="appointments", start=minutes(1)),
        ]
        fire_all(replay, feed, platform + tenants if order == 0 else tenants + platform)
        by_tenant = {o.tenant: o for o in replay.correlator.outages.values()}
        assert sorted(by_tenant) == ["acme", "globex", "platform"]
        assert by_tenant["acme"].platform_outages == [by_tenant["platform"].id]
        assert by_tenant["globex"].platform_outages == [by_tenant["platform"].id]
        assert by_tenant["acme"].services == ["checkout"]


def test_an_unmatched_alert_attaches_by_topology_but_never_bridges_outages() -> None:
    replay, feed = Replay(RULES), Feed()
    fire_all(
        replay,
        feed,
        [
            make_alert("acme", "NodeDiskFull", job="node-exporter", cluster="c1"),
            make_alert("acme", "ChkErr", service="checkout", cluster="c1", start=minutes(1)),
            make_alert("acme", "SearchSlow", service="search", cluster="c1", start=minutes(2)),
        ],
    )
    assert groups(replay) == {frozenset({"NodeDiskFull", "ChkErr"}), frozenset({"SearchSlow"})}


def test_an_unmatched_alert_alone_forms_no_outage_and_is_counted() -> None:
    replay, feed = Replay(RULES), Feed()
    changes = replay.correlator.apply([feed.fire(make_alert("acme", "Weird", job="kube-state-metrics"))], now=T0)
    assert changes.unmatched == ("acme",)
    assert replay.correlator.outages == {}
    assert [a.match for a in changes.alerts] == ["no catalogued service"]


def test_events_handed_over_twice_change_nothing() -> None:
    replay, feed = Replay(RULES), Feed()
    fire_all(replay, feed, [make_alert("acme", "PayErr", service="payments-api")])
    again = replay.correlator.apply(feed.sent, now=minutes(1))
    assert again.outages == ()
    assert again.alerts == ()


def test_restored_state_groups_like_the_original() -> None:
    original, feed = Replay(RULES), Feed()
    fire_all(original, feed, [make_alert("acme", "CartErr", service="cart")])
    restored = Replay(RULES)
    restored.correlator.restore(original.correlator.outages.values(), original.correlator.alerts.values())
    late = make_alert("acme", "ShopDown", service="web-shop", start=minutes(2))
    for replay in (original, restored):
        replay.step([Feed(next_id=9).fire(late)], now=minutes(2))
    assert groups(original) == groups(restored) == {frozenset({"CartErr", "ShopDown"})}


ACME = ["web-shop", "checkout", "payments-api", "cart", "catalog-api", "search", "redis-acme", "reporting"]


@settings(max_examples=60, deadline=None)
@given(
    alerts=st.lists(st.tuples(st.sampled_from(ACME), st.integers(min_value=0, max_value=40)), min_size=1, max_size=12),
    seed=st.randoms(use_true_random=False),
)
def test_grouping_does_not_depend_on_arrival_order(alerts: list[tuple[str, int]], seed: object) -> None:
    made = [
        make_alert("acme", f"A{i}", service=service, start=minutes(start)) for i, (service, start) in enumerate(alerts)
    ]
    shuffled = list(made)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    results = []
    for order in (made, shuffled):
        replay, feed = Replay(RULES), Feed()
        for alert in order:
            replay.step([feed.fire(alert)], now=minutes(50))
        results.append(groups(replay))
    assert results[0] == results[1]
