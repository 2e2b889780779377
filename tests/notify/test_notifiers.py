"""Each notifier against a real receiver on loopback, and the worker's tenant isolation and secrecy."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from daemon.config.tenants import Channel, TenantSettings
from daemon.kernel.clock import FakeClock
from daemon.notify.mail import EmailNotifier
from daemon.notify.models import Message, Notifier, NotifyError, channels_for
from daemon.notify.slack import slack_payload
from daemon.notify.teams import teams_payload
from daemon.notify.webhook import WebhookNotifier
from daemon.notify.worker import TOPIC, NotifyWorker
from daemon.store import outbox
from daemon.store.database import Database
from daemon.store.outbox import Outbox
from daemon.telemetry.metrics import Metrics
from tests.notify.receivers import HttpSink, MailSink, http_sink, smtp_sink
from tests.support.procs import free_port

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
MESSAGE = Message(
    tenant="acme",
    incident_id="MI-000001",
    audience="technical",
    subject="[P1] MI-000001 Payments",
    text="**Now:** failing over",
)
SECRET = "/hooks/T000/B000/s3cr3t-key"


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    async with http_sink() as s:
        yield s


@pytest.fixture
def mail() -> Iterator[MailSink]:
    with smtp_sink() as m:
        yield m


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def hook(sink: HttpSink, path: str = SECRET, kind: str = "webhook") -> Channel:
    return Channel.model_validate({"name": "chat", "kind": kind, "url": sink.url(path)})


async def test_payload_shapes(sink: HttpSink, session: aiohttp.ClientSession) -> None:
    await WebhookNotifier(session).send(hook(sink, "/generic"), MESSAGE)
    await WebhookNotifier(session, slack_payload).send(hook(sink, "/slack"), MESSAGE)
    await WebhookNotifier(session, teams_payload).send(hook(sink, "/teams"), MESSAGE)
    assert sink.at("/generic") == [MESSAGE.model_dump()]
    slack = sink.at("/slack")[0]
    assert slack["text"].endswith("*Now:* failing over")
    assert slack["blocks"][0]["text"]["text"] == MESSAGE.subject
    card = sink.at("/teams")[0]["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert [b["text"] for b in card["content"]["body"]] == [MESSAGE.subject, MESSAGE.text]


async def test_email_reaches_the_smtp_server(mail: MailSink) -> None:
    channel = Channel(
        name="oncall",
        kind="email",
        to=["ops@acme.example", "cto@acme.example"],
        smtp_port=mail.port,
        sender="micd@acme.example",
    )
    await EmailNotifier().send(channel, MESSAGE)
    ((rcpts, sent),) = mail.messages
    assert rcpts == ["ops@acme.example", "cto@acme.example"]
    assert (sent["Subject"], sent["From"], sent["X-Micd-Incident"]) == (
        MESSAGE.subject,
        "micd@acme.example",
        "MI-000001",
    )
    assert "failing over" in sent.get_payload()
    closed = Channel(name="oncall", kind="email", to=["ops@acme.example"], smtp_port=free_port())
    with pytest.raises(NotifyError) as caught:
        await EmailNotifier(timeout=2).send(closed, MESSAGE)
    assert caught.value.retryable


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (404, False), (400, False)])
async def test_http_failures_say_whether_to_retry_and_never_show_the_url(
    sink: HttpSink, session: aiohttp.ClientSession, status: int, retryable: bool
) -> None:
    sink.fail_next, sink.fail_status = 1, status
    with pytest.raises(NotifyError) as caught:
        await WebhookNotifier(session).send(hook(sink), MESSAGE)
    assert caught.value.retryable is retryable
    assert str(status) in caught.value.message
    assert "s3cr3t" not in caught.value.message


async def test_unreachable_is_retryable(session: aiohttp.ClientSession) -> None:
    channel = Channel.model_validate(
        {"name": "chat", "kind": "webhook", "url": f"http://127.0.0.1:{free_port()}{SECRET}"}
    )
    with pytest.raises(NotifyError) as caught:
        await WebhookNotifier(session).send(channel, MESSAGE)
    assert caught.value.retryable
    assert "s3cr3t" not in caught.value.message


def test_channels_for_takes_only_the_given_tenant_and_audience() -> None:
    tenant = TenantSettings(
        channels=[
            Channel(name="a", kind="email", to=["x@y"], audiences=["customer"]),
            Channel(name="b", kind="email", to=["x@y"]),
        ]
    )
    assert [c.name for c in channels_for(tenant, "customer")] == ["a"]
    assert [c.name for c in channels_for(tenant, "executive")] == ["b"]
    assert channels_for(None, "technical") == []


async def test_worker_never_crosses_tenants_and_never_logs_the_url(
    tmp_path: Path, sink: HttpSink, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(tmp_path / "micd.sqlite3")
    db.migrate(outbox.MIGRATIONS)
    tenants = {"acme": TenantSettings(channels=[hook(sink)]), "globex": TenantSettings()}
    metrics = Metrics()
    notifiers: dict[str, Notifier] = {"webhook": WebhookNotifier(session)}
    worker = NotifyWorker(
        outbox=Outbox(db), tenants=tenants, notifiers=notifiers, metrics=metrics, clock=FakeClock(NOW)
    )

    def enqueue(conn: sqlite3.Connection, tenant: str, message: Message) -> None:
        outbox.enqueue(
            conn,
            topic=TOPIC,
            tenant=tenant,
            key=f"{tenant}/chat",
            action="send",
            payload={"channel": "chat", "message": message.model_dump()},
            now=NOW,
        )

    try:
        # globex has no channel named chat; a message claiming another tenant than its item is refused too
        await db.write(lambda c: enqueue(c, "globex", MESSAGE.model_copy(update={"tenant": "globex"})))
        await db.write(lambda c: enqueue(c, "acme", MESSAGE.model_copy(update={"tenant": "globex"})))
        await db.write(lambda c: enqueue(c, "acme", MESSAGE))
        sink.fail_next = 1
        with caplog.at_level(logging.DEBUG):
            for _ in range(5):
                await worker.run_once()
            assert await Outbox(db).depth(topic=TOPIC) == 1  # the real one waits for its retry
            worker = NotifyWorker(
                outbox=Outbox(db),
                tenants=tenants,
                notifiers=notifiers,
                metrics=metrics,
                clock=FakeClock(NOW.replace(minute=1)),
            )
            await worker.run_once()
        assert sink.at(SECRET) == [MESSAGE.model_dump()]
        assert await Outbox(db).depth(topic=TOPIC) == 0
        ours = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records if r.name != "aiohttp.access")
        assert "s3cr3t" not in ours  # (the receiver's own access log is not ours)
        assert "answered HTTP 503" in ours
        value = metrics.registry.get_sample_value
        assert (
            value("micd_notifications_total", {"tenant": "globex", "channel_kind": "unknown", "outcome": "dropped"})
            == 1
        )
        assert (
            value("micd_notifications_total", {"tenant": "acme", "channel_kind": "webhook", "outcome": "dropped"}) == 1
        )
        assert (
            value("micd_notifications_total", {"tenant": "acme", "channel_kind": "webhook", "outcome": "delivered"})
            == 1
        )
    finally:
        db.close()
