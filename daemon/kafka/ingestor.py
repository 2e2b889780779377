"""The Kafka consumer group member: fetch, parse, store durably, then commit. At least once, never blocked.

Two tasks share one consumer: the fetch loop polls and hands batches over (pausing every partition when too many
records are in flight), and the worker stores them through IngestService, dead-letters what cannot be parsed, and
commits only what is durable. A record may therefore be stored twice (crash before commit, rebalance mid-batch);
IngestService deduplicates, so a redelivery changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from daemon.alerts.models import Alert, Source
from daemon.config.settings import Settings
from daemon.ingest.kafka_values import parse_value
from daemon.kafka.dead_letter import DeadLetters
from daemon.kafka.progress import Flow, Offsets, Partition, names
from daemon.kafka.security import client_options
from daemon.kafka.state import KafkaState, KafkaStatus, Tuning
from daemon.kernel.clock import Clock
from daemon.kernel.errors import InvalidInput
from daemon.telemetry.metrics import Metrics

log = logging.getLogger("micd.kafka")

MAX_BACKOFF = 5.0


class IngestPort(Protocol):
    async def ingest(self, alerts: Sequence[Alert], *, source: Source) -> object: ...


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, ingestor: KafkaIngestor) -> None:
        self._ingestor = ingestor

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._ingestor._revoked({Partition(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self._ingestor._assigned({Partition(tp.topic, tp.partition) for tp in assigned})


class KafkaIngestor:
    """`start()` returns at once and connects in the background (retrying), so a down broker never stops micd
    from starting; `status` tells /readyz how it is going. `stop()` stores and commits what is in flight."""

    def __init__(
        self, *, settings: Settings, ingest: IngestPort, metrics: Metrics, clock: Clock, tuning: Tuning | None = None
    ) -> None:
        self._settings = settings.kafka
        self._tenant_label = settings.tenant_label
        self._max_alerts = settings.limits.max_alerts_per_request
        self._options = client_options(settings.kafka)
        self._ingest = ingest
        self._metrics = metrics
        self._clock = clock
        self._tuning = tuning or Tuning()
        self._offsets = Offsets()
        self._flow = Flow(limit=settings.kafka.max_in_flight)
        self._queue: asyncio.Queue[list[ConsumerRecord[bytes, bytes]]] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._room = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._dead_letters: DeadLetters | None = None
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._failures = 0
        self._rebalancing = False
        self._broker_error: str | None = "not connected yet"
        self._pipeline_error: str | None = None

    @property
    def status(self) -> KafkaStatus:
        if self._task is None or self._task.done():
            state = KafkaState.STOPPED
        elif not self._started and not self._failures:
            state = KafkaState.STARTING
        elif not self._started or self._broker_error or self._pipeline_error:
            state = KafkaState.DEGRADED
        else:
            state = KafkaState.PAUSED if self._flow.paused else KafkaState.RUNNING
        partitions = len(self._consumer.assignment()) if self._consumer is not None and self._started else 0
        error = self._pipeline_error or self._broker_error
        return KafkaStatus(state, partitions, self._flow.in_flight, error, rebalancing=self._rebalancing)

    def readiness(self) -> tuple[bool, str]:
        """(ready, detail) in the shape /readyz checks take."""
        status = self.status
        detail = f"{status.state.value}: {status.partitions} partitions, {status.in_flight} records in flight"
        detail += ", rebalancing" if status.rebalancing else ""
        return status.ready, detail + (f"; {status.error}" if status.error else "")

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="micd-kafka")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task

    # --- connection lifecycle -------------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._connect()
                self._failures = 0
                await self._consume()
            except KafkaError as exc:
                self._broker_error = f"{type(exc).__name__}: {exc}"
                log.warning("kafka connection failed, retrying", extra={"error": self._broker_error})
            except Exception as exc:
                # A bug must not end ingestion for good: log it, start over from the last commit.
                self._pipeline_error = f"{type(exc).__name__}: {exc}"
                log.exception("kafka consumer failed, restarting", extra={"error": self._pipeline_error})
            finally:
                await self._disconnect()
            self._failures += 1
            await self._pause(min(0.2 * 2**self._failures, MAX_BACKOFF))

    async def _connect(self) -> None:
        settings = self._settings
        self._consumer = AIOKafkaConsumer(
            **self._options,
            group_id=settings.group_id,
            enable_auto_commit=False,
            # A new group reads what was queued before micd first started rather than dropping it.
            auto_offset_reset="earliest",
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
        )
        await self._consumer.start()
        if settings.dead_letter_topic:
            self._dead_letters = DeadLetters(topic=settings.dead_letter_topic, options=self._options)
            await self._dead_letters.start()
        self._consumer.subscribe(topics=list(settings.topics), listener=_Listener(self))
        self._started = True
        self._broker_error = self._pipeline_error = None
        log.info("kafka consumer started in group %s", settings.group_id, extra={"topic": ",".join(settings.topics)})

    async def _disconnect(self) -> None:
        self._started = self._rebalancing = False
        if self._consumer is not None:
            with contextlib.suppress(KafkaError):
                await self._consumer.stop()
        if self._dead_letters is not None:
            with contextlib.suppress(KafkaError):
                await self._dead_letters.stop()
        self._consumer = self._dead_letters = None
        # Whatever was fetched and not stored is fetched again by the next consumer, from the last commit.
        self._offsets = Offsets()
        self._flow = Flow(limit=self._settings.max_in_flight)
        self._queue = asyncio.Queue()
        self._room.clear()
        self._metrics.kafka_consumer_lag.clear()

    async def _pause(self, seconds: float) -> None:
        """Sleep that ends early when stop() is called."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _consume(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        worker = asyncio.create_task(self._work(), name="micd-kafka-worker")
        probe = asyncio.create_task(self._probe(), name="micd-kafka-probe")
        try:
            while not self._stopping.is_set() and not worker.done():
                await self._fetch(consumer)
            if worker.done() and not self._stopping.is_set():
                worker.result()  # re-raises why the worker ended
            await self._drain()
            await self._commit()
        finally:
            probe.cancel()
            worker.cancel()
            await asyncio.gather(probe, worker, return_exceptions=True)

    async def _probe(self) -> None:
        """aiokafka reconnects by itself and never raises from a poll, so ask the broker for metadata now and
        then to know whether it is reachable."""
        while self._consumer is not None:
            try:
                await asyncio.wait_for(self._consumer.topics(), self._tuning.probe_seconds)
            except (KafkaError, TimeoutError) as exc:
                if self._broker_error is None:
                    log.warning("kafka broker unreachable", extra={"error": str(exc) or type(exc).__name__})
                self._broker_error = f"broker unreachable: {type(exc).__name__}"
            else:
                self._broker_error = None
            await asyncio.sleep(self._tuning.probe_seconds)

    # --- fetching and back-pressure -------------------------------------------------------------------------

    async def _fetch(self, consumer: AIOKafkaConsumer) -> None:
        if self._flow.paused and not self._flow.may_resume:
            # Wake as soon as the worker frees room, not a whole poll later.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._room.wait(), self._tuning.poll_ms / 1000)
            self._room.clear()
        self._apply_flow(consumer)
        # Still poll while paused (timeout 0): the group takes a member that stops polling for dead.
        timeout_ms = 0 if self._flow.paused else self._tuning.poll_ms
        batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=max(self._flow.room(), 1))
        records = [record for batch in batches.values() for record in batch]
        if records:
            self._flow.taken(len(records))
            self._queue.put_nowait(records)
            self._apply_flow(consumer)
        self._update_lag(consumer)

    def _apply_flow(self, consumer: AIOKafkaConsumer) -> None:
        change = self._flow.decide()
        if change is True:
            log.debug("kafka consumption paused: pipeline behind", extra={"count": self._flow.in_flight})
        elif change is False:
            consumer.resume(*consumer.assignment())
            log.debug("kafka consumption resumed", extra={"count": self._flow.in_flight})
        if self._flow.paused:
            # Again each poll: partitions assigned by a rebalance while paused start unpaused.
            consumer.pause(*consumer.assignment())

    def _update_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            lag = self._offsets.lag(Partition(tp.topic, tp.partition), consumer.highwater(tp))
            if lag is not None:
                self._metrics.kafka_consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(lag)

    # --- storing and committing -----------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            records = await self._queue.get()
            taken = 1
            while not self._queue.empty():  # coalesce what queued up meanwhile: one transaction, one commit
                records = records + self._queue.get_nowait()
                taken += 1
            try:
                await self._handle(records)
                await self._commit()
                if self._consumer is not None:
                    self._update_lag(self._consumer)
            finally:
                self._flow.done(len(records))
                if self._flow.may_resume:
                    self._room.set()
                for _ in range(taken):
                    self._queue.task_done()

    async def _handle(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        now = self._clock.now()
        parsed: list[tuple[ConsumerRecord[bytes, bytes], list[Alert]]] = []
        refused: list[tuple[ConsumerRecord[bytes, bytes], str]] = []
        for record in records:
            try:
                alerts = parse_value(
                    record.value,
                    key=record.key,
                    timestamp=datetime.fromtimestamp(record.timestamp / 1000, UTC) if record.timestamp > 0 else now,
                    tenant_label=self._tenant_label,
                    now=now,
                    max_alerts=self._max_alerts,
                )
            except InvalidInput as exc:
                refused.append((record, exc.message))
            else:
                parsed.append((record, alerts))
        refused += await self._store(parsed)
        for record, error in refused:
            await self._dead_letter(record, error)
        for record in records:
            self._offsets.stored(Partition(record.topic, record.partition), record.offset)
        refused_ids = {id(record) for record, _ in refused}
        refused_outcome = "dead_letter" if self._dead_letters is not None else "dropped"
        for record in records:
            outcome = refused_outcome if id(record) in refused_ids else "ingested"
            self._metrics.kafka_messages.labels(topic=record.topic, outcome=outcome).inc()

    async def _store(
        self, parsed: list[tuple[ConsumerRecord[bytes, bytes], list[Alert]]]
    ) -> list[tuple[ConsumerRecord[bytes, bytes], str]]:
        """Store all in one go; if the service refuses the batch, store record by record to find the culprit,
        so one bad record never holds back the others. Returns the records refused."""
        alerts = [alert for _, record_alerts in parsed for alert in record_alerts]
        if not alerts:
            return []
        try:
            await self._retrying("store alerts", lambda: self._ingest.ingest(alerts, source=Source.KAFKA))
            return []
        except InvalidInput:
            pass
        refused = []
        for record, record_alerts in parsed:
            try:
                await self._retrying("store alerts", partial(self._ingest.ingest, record_alerts, source=Source.KAFKA))
            except InvalidInput as exc:
                refused.append((record, exc.message))
        return refused

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: str) -> None:
        dead_letters = self._dead_letters
        if dead_letters is None:
            log.warning(
                "record refused and dropped: no dead_letter_topic configured",
                extra={"topic": record.topic, "partition": record.partition, "offset": record.offset, "error": error},
            )
            return
        await self._retrying("send dead letter", lambda: dead_letters.send(record, error))
        self._metrics.kafka_dead_letters.labels(topic=record.topic).inc()

    async def _retrying(self, what: str, operation: Callable[[], Awaitable[Any]]) -> None:
        """Transient failures (database busy, broker away) are retried until they pass or micd stops; the offsets
        stay uncommitted meanwhile, and the in-flight limit pauses fetching. InvalidInput is final: re-raised."""
        attempt = 0
        while True:
            try:
                await operation()
            except InvalidInput:
                raise
            except Exception as exc:
                attempt += 1
                self._pipeline_error = f"{what} failed: {type(exc).__name__}: {exc}"
                log.warning("kafka pipeline retrying", extra={"error": self._pipeline_error, "attempt": attempt})
                if self._stopping.is_set() and attempt >= 3:
                    raise
                await asyncio.sleep(min(0.1 * 2**attempt, MAX_BACKOFF))
            else:
                self._pipeline_error = None
                return

    async def _commit(self, only: set[Partition] | None = None) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        assigned = {Partition(tp.topic, tp.partition) for tp in consumer.assignment()}
        offsets = {tp: o for tp, o in self._offsets.to_commit(only).items() if tp in assigned}
        if not offsets:
            return
        try:
            await consumer.commit({TopicPartition(tp.topic, tp.partition): o for tp, o in offsets.items()})
        except (CommitFailedError, IllegalStateError) as exc:
            # The group moved on: the new owner starts from the last commit and redelivers; storing is idempotent.
            log.info("kafka commit superseded by a rebalance", extra={"error": str(exc)})
        except KafkaError as exc:
            log.warning("kafka commit failed; will retry with the next one", extra={"error": str(exc)})
        else:
            self._offsets.committed(offsets)

    async def _drain(self) -> None:
        """Wait (bounded) until the worker has stored and committed every record handed over."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), self._tuning.drain_seconds)

    # --- rebalances -----------------------------------------------------------------------------------------

    async def _revoked(self, revoked: set[Partition]) -> None:
        """Commit what is stored before another member takes these partitions over, so it redelivers little."""
        self._rebalancing = True
        if not revoked:
            return
        await self._drain()
        await self._commit(revoked)
        self._offsets.forget(revoked)
        for tp in revoked:
            with contextlib.suppress(KeyError):
                self._metrics.kafka_consumer_lag.remove(tp.topic, str(tp.partition))
        log.info("kafka partitions revoked", extra={"partition": names(revoked)})

    async def _assigned(self, assigned: set[Partition]) -> None:
        self._rebalancing = False
        consumer = self._consumer
        if consumer is None:
            return
        for tp in assigned:
            # Where consumption starts, so lag is reported before the first record is stored.
            with contextlib.suppress(KafkaError):
                kafka_tp = TopicPartition(tp.topic, tp.partition)
                committed = await consumer.committed(kafka_tp)
                if committed is None:
                    committed = (await consumer.beginning_offsets([kafka_tp])).get(kafka_tp)
                if committed is not None:
                    self._offsets.known(tp, committed)
        log.info("kafka partitions assigned", extra={"partition": names(assigned)})
