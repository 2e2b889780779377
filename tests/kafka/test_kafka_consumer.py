"""The consumer against a real broker: both value forms, dead letters, redelivery, back-pressure, groups."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from daemon.alerts.models import Alert, Source
from daemon.ingest.service import IngestResult, IngestService
from daemon.kafka.state import KafkaState
from tests.kafka.broker import Tansu
from tests.kafka.conftest import eventually, kafka_settings, stack, unique
from tests.support.payloads import am_webhook_alert, webhook

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def api_alert(name: str, **labels: str) -> bytes:
    return orjson.dumps(
        {"labels": {"alertname": name, **labels}, "annotations": {"summary": name}, "startsAt": "2026-12-03T10:00:00Z"}
    )


async def test_both_forms_and_arrays_are_stored(broker: Tansu, tmp_path: Path) -> None:
    topic, group = unique("alerts"), unique("g")
    await broker.create_topic(topic, 1)
    await broker.produce(
        topic,
        [
            (None, api_alert("Single", tenant="acme")),
            (
                b"globex",
                orjson.dumps(
                    webhook(
                        [
                            am_webhook_alert({"alertname": "Hook1"}),
                            am_webhook_alert({"alertname": "Hook2", "tenant": "acme"}),
                        ]
                    )
                ),
            ),
            (b"initech", orjson.dumps([orjson.loads(api_alert("Arr1")), orjson.loads(api_alert("Arr2"))])),
        ],
    )
    async with stack(tmp_path / "db.sqlite3", kafka_settings(broker, topics=[topic], group=group)) as micd:
        await eventually(lambda: _equals(micd.alert_count(), 5), what="5 alerts stored")
        rows = await micd.db.read(lambda c: c.execute("SELECT tenant, body FROM alerts").fetchall())
        by_name = {orjson.loads(r["body"])["labels"]["alertname"]: r["tenant"] for r in rows}
        assert by_name == {"Single": "acme", "Hook1": "globex", "Hook2": "acme", "Arr1": "initech", "Arr2": "initech"}
        assert micd.sample("micd_kafka_messages_total", {"topic": topic, "outcome": "ingested"}) == 3
        assert micd.sample("micd_alerts_received_total", {"source": "kafka", "tenant": "initech"}) == 2
        await eventually(lambda: _equals(broker.committed(group, topic, 1), [3]), what="offset 3 committed")
        assert micd.ingestor.status.state is KafkaState.RUNNING
        await eventually(
            lambda: _equals_sample(micd, "micd_kafka_consumer_lag", {"topic": topic, "partition": "0"}, 0),
            what="lag 0 once all is stored",
        )


async def _equals(value: Any, expected: object) -> bool:
    return bool(await value == expected)


async def test_poison_goes_to_dead_letter_and_the_next_record_is_processed(broker: Tansu, tmp_path: Path) -> None:
    topic, dlq, group = unique("alerts"), unique("dlq"), unique("g")
    await broker.create_topic(topic, 1)
    await broker.create_topic(dlq, 1)
    poison = b"{not json"
    bad_tenant = api_alert("BadTenant", tenant="no spaces allowed")
    await broker.produce(
        topic,
        [
            (None, api_alert("First", tenant="acme")),
            (b"k", poison),
            (None, bad_tenant),
            (None, api_alert("Next", tenant="acme")),
        ],
    )
    settings = kafka_settings(broker, topics=[topic], group=group, dead_letter_topic=dlq)
    async with stack(tmp_path / "db.sqlite3", settings) as micd:
        await eventually(lambda: _equals(micd.alert_names(), ["First", "Next"]), what="both good alerts stored")
        letters = await broker.read_all(dlq, expect=2)
        assert [(key, value) for key, value, _ in letters] == [(b"k", poison), (None, bad_tenant)]
        assert [h["micd.origin.offset"] for _, _, h in letters] == [b"1", b"2"]
        assert all(h["micd.origin.topic"] == topic.encode() and h["micd.origin.partition"] == b"0" for *_, h in letters)
        assert b"not JSON" in letters[0][2]["micd.error"]
        assert b"value.labels.tenant" in letters[1][2]["micd.error"]
        await eventually(lambda: _equals(broker.committed(group, topic, 1), [4]), what="all 4 offsets committed")
        assert micd.sample("micd_kafka_dead_letters_total", {"topic": topic}) == 2
        assert micd.sample("micd_kafka_messages_total", {"topic": topic, "outcome": "dead_letter"}) == 2
        assert micd.sample("micd_kafka_messages_total", {"topic": topic, "outcome": "ingested"}) == 2


async def test_redelivered_records_change_nothing(broker: Tansu, tmp_path: Path) -> None:
    """A second group reads the same records into the same database: as a redelivery after a crash would."""
    topic = unique("alerts")
    await broker.create_topic(topic, 2)
    await broker.produce(topic, [(b"acme", api_alert(f"A{i}")) for i in range(20)])
    db = tmp_path / "db.sqlite3"
    async with stack(db, kafka_settings(broker, topics=[topic], group=unique("g"))) as micd:
        await eventually(lambda: _equals(micd.event_count(), 20), what="20 events")
    async with stack(db, kafka_settings(broker, topics=[topic], group=unique("g"))) as again:
        await eventually(
            lambda: _equals_sample(again, "micd_kafka_messages_total", {"topic": topic, "outcome": "ingested"}, 20),
            what="20 records consumed again",
        )
        assert await again.event_count() == 20
        assert await again.alert_count() == 20


async def _equals_sample(micd: Any, name: str, labels: dict[str, str], expected: float) -> bool:
    return bool(micd.sample(name, labels) == expected)


class Gate:
    """The real IngestService behind a gate the test opens: a pipeline that falls behind on demand."""

    def __init__(self, service: IngestService) -> None:
        self.service = service
        self.open = asyncio.Event()

    async def ingest(self, alerts: Sequence[Alert], *, source: Source) -> IngestResult:
        await self.open.wait()
        return await self.service.ingest(alerts, source=source)


async def test_back_pressure_pauses_then_resumes(broker: Tansu, tmp_path: Path) -> None:
    topic = unique("alerts")
    await broker.create_topic(topic, 2)
    await broker.produce(topic, [(b"acme", api_alert(f"A{i}")) for i in range(60)])
    gates: list[Gate] = []

    def gated(service: IngestService) -> Gate:
        gates.append(Gate(service))
        return gates[0]

    settings = kafka_settings(broker, topics=[topic], group=unique("g"), max_in_flight=8)
    async with stack(tmp_path / "db.sqlite3", settings, wrap=gated) as micd:
        status = await eventually(
            lambda: _status_if(micd, KafkaState.PAUSED), what="consumption paused while storing is blocked"
        )
        assert status.in_flight <= 8
        consumer = micd.ingestor._consumer
        assert consumer is not None
        assert consumer.paused() == consumer.assignment()
        await asyncio.sleep(0.5)  # polls go on while paused; none of them may take more records
        assert micd.ingestor.status.in_flight <= 8
        assert await micd.alert_count() == 0
        lag = [micd.sample("micd_kafka_consumer_lag", {"topic": topic, "partition": p}) for p in ("0", "1")]
        assert sum(lag) == 60  # nothing stored yet: the whole topic is behind
        gates[0].open.set()
        await eventually(lambda: _equals(micd.alert_count(), 60), what="all 60 stored after resuming")
        await eventually(lambda: _status_if(micd, KafkaState.RUNNING), what="running again")
        assert consumer.paused() == set()


async def _status_if(micd: Any, state: KafkaState) -> Any:
    status = micd.ingestor.status
    return status if status.state is state else None


async def test_two_consumers_in_one_group_share_partitions_and_see_each_alert_once(
    broker: Tansu, tmp_path: Path
) -> None:
    topic, group = unique("alerts"), unique("g")
    await broker.create_topic(topic, 4)
    settings = kafka_settings(broker, topics=[topic], group=group)
    await broker.produce(topic, [(f"t{i % 7}".encode(), api_alert(f"A{i}")) for i in range(50)])
    async with stack(tmp_path / "one.sqlite3", settings) as one:
        await eventually(lambda: _status_if(one, KafkaState.RUNNING), what="first member running")
        await eventually(lambda: one.alert_count(), what="first member consuming")
        async with stack(tmp_path / "two.sqlite3", settings) as two:
            await eventually(
                lambda: _partitions(one, two, (2, 2)), within=60, what="partitions split 2 + 2 after the rebalance"
            )
            await broker.produce(topic, [(f"t{i % 7}".encode(), api_alert(f"A{i}")) for i in range(50, 100)])
            await eventually(
                lambda: _total(one, two, 100), within=60, what="every alert stored by one of the two members"
            )
            names_one, names_two = set(await one.alert_names()), set(await two.alert_names())
            assert names_one | names_two == {f"A{i}" for i in range(100)}
            assert names_one & names_two == set()  # the revoke commit left nothing to redeliver
            assert await one.event_count() + await two.event_count() == 100
            assert names_two  # the second member got partitions and records of its own


async def _partitions(one: Any, two: Any, expected: tuple[int, int]) -> bool:
    return (one.ingestor.status.partitions, two.ingestor.status.partitions) == expected


async def _total(one: Any, two: Any, expected: int) -> bool:
    return bool(await one.alert_count() + await two.alert_count() == expected)


async def test_broker_restart_is_survived(own_broker: Tansu, tmp_path: Path) -> None:
    """Tansu keeps data in memory, so the restarted broker is empty: the consumer must reconnect, notice it is
    degraded meanwhile, and go on storing what is produced afterwards."""
    topic, group = unique("alerts"), unique("g")
    await own_broker.create_topic(topic, 1)
    await own_broker.produce(topic, [(b"acme", api_alert(f"Before{i}")) for i in range(5)])
    async with stack(tmp_path / "db.sqlite3", kafka_settings(own_broker, topics=[topic], group=group)) as micd:
        await eventually(lambda: _equals(micd.alert_count(), 5), what="5 alerts before the restart")
        own_broker.stop()
        await eventually(lambda: _status_if(micd, KafkaState.DEGRADED), what="degraded while the broker is down")
        ready, detail = micd.ingestor.readiness()
        assert not ready
        assert "unreachable" in detail
        own_broker.start()
        await own_broker.create_topic(topic, 1)  # the test broker forgot it
        await own_broker.produce(topic, [(b"acme", api_alert(f"After{i}")) for i in range(5)])
        await eventually(lambda: _equals(micd.alert_count(), 10), within=60, what="5 more alerts after the restart")
        await eventually(lambda: _status_if(micd, KafkaState.RUNNING), what="running again")
        assert micd.ingestor.readiness()[0]


async def test_starts_while_the_broker_is_down_and_connects_when_it_comes(own_broker: Tansu, tmp_path: Path) -> None:
    topic = unique("alerts")
    own_broker.stop()
    settings = kafka_settings(own_broker, topics=[topic], group=unique("g"))
    async with stack(tmp_path / "db.sqlite3", settings) as micd:
        await eventually(lambda: _status_if(micd, KafkaState.DEGRADED), what="degraded, not stuck starting")
        assert not micd.ingestor.readiness()[0]
        own_broker.start()
        await own_broker.create_topic(topic, 1)
        await own_broker.produce(topic, [(b"acme", api_alert("Late"))])
        await eventually(lambda: _equals(micd.alert_names(), ["Late"]), within=60, what="the alert once connected")
        assert micd.ingestor.readiness()[0]


async def test_records_in_flight_at_a_rebalance_are_committed_before_the_partitions_move(
    broker: Tansu, tmp_path: Path
) -> None:
    """The first member is still storing when the second joins: the records it holds are stored and committed
    before the second member starts on those partitions, so none is stored twice. (Real Kafka refuses commits
    once the group rebalances, which is why the revoke handler drains and commits; Tansu is laxer about it.)"""
    topic, group = unique("alerts"), unique("g")
    await broker.create_topic(topic, 4)
    settings = kafka_settings(broker, topics=[topic], group=group)
    gates: list[Gate] = []

    def gated(service: IngestService) -> Gate:
        gates.append(Gate(service))
        return gates[-1]

    await broker.produce(topic, [(f"t{i % 7}".encode(), api_alert(f"A{i}")) for i in range(40)])
    async with stack(tmp_path / "one.sqlite3", settings, wrap=gated) as one:
        await eventually(lambda: _in_flight(one), what="records held in flight by the closed gate")
        async with stack(tmp_path / "two.sqlite3", settings) as two:
            await eventually(lambda: _rebalancing(one), what="the first member revoking its partitions")
            assert await one.alert_count() == 0
            gates[0].open.set()
            await eventually(lambda: _partitions(one, two, (2, 2)), within=60, what="partitions split 2 + 2")
            await broker.produce(topic, [(f"t{i % 7}".encode(), api_alert(f"A{i}")) for i in range(40, 80)])
            await eventually(lambda: _total(one, two, 80), within=60, what="every alert stored by one member")
            assert await one.event_count() + await two.event_count() == 80
            assert not set(await one.alert_names()) & set(await two.alert_names())


async def _in_flight(micd: Any) -> bool:
    return bool(micd.ingestor.status.in_flight > 0)


async def _rebalancing(micd: Any) -> bool:
    return bool(micd.ingestor.status.rebalancing)


async def test_without_a_dead_letter_topic_refused_records_are_counted_and_skipped(
    broker: Tansu, tmp_path: Path
) -> None:
    topic, group = unique("alerts"), unique("g")
    await broker.create_topic(topic, 1)
    await broker.produce(topic, [(None, b"[1, 2]"), (None, api_alert("Next", tenant="acme"))])
    settings = kafka_settings(broker, topics=[topic], group=group, dead_letter_topic=None)
    async with stack(tmp_path / "db.sqlite3", settings) as micd:
        await eventually(lambda: _equals(micd.alert_names(), ["Next"]), what="the good alert stored")
        await eventually(lambda: _equals(broker.committed(group, topic, 1), [2]), what="both offsets committed")
        assert micd.sample("micd_kafka_messages_total", {"topic": topic, "outcome": "dropped"}) == 1
        assert micd.sample("micd_kafka_dead_letters_total", {"topic": topic}) == 0
