"""Command-phase shell: `CommandService` (commands), `IncidentReader` (views), `CadenceTicker` (owed declarations,
reminders, gauges).

`build` wires the three around one `Recorder`, which is all `app.py` needs to call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from daemon.command.render import Renderer
from daemon.config.command import CommandSettings
from daemon.config.tenants import TenantSettings
from daemon.kernel.clock import Clock
from daemon.runtime.command.declarations import DeclarationSweep
from daemon.runtime.command.reads import IncidentReader, IncidentView
from daemon.runtime.command.records import OutageLinks, Recorder
from daemon.runtime.command.runbooks import CatalogLinks, ServiceLinks
from daemon.runtime.command.service import ClosureInput, CommandService, ReviewEdit
from daemon.runtime.command.ticker import CadenceTicker
from daemon.store.database import Database
from daemon.telemetry.metrics import Metrics

__all__ = [
    "CadenceTicker",
    "CatalogLinks",
    "ClosureInput",
    "Command",
    "CommandService",
    "IncidentReader",
    "IncidentView",
    "OutageLinks",
    "ReviewEdit",
    "ServiceLinks",
    "build",
]


@dataclass(frozen=True)
class Command:
    service: CommandService
    reader: IncidentReader
    ticker: CadenceTicker


def build(
    *,
    db: Database,
    clock: Clock,
    settings: CommandSettings,
    tenants: Mapping[str, TenantSettings],
    metrics: Metrics,
    outages: OutageLinks | None = None,
    runbooks: ServiceLinks | None = None,
) -> Command:
    recorder = Recorder(settings=settings, tenants=tenants)
    service = CommandService(
        db=db, clock=clock, recorder=recorder, metrics=metrics, renderer=Renderer(), outages=outages, runbooks=runbooks
    )
    declarations = DeclarationSweep(db=db, clock=clock, declarer=service, retry_seconds=settings.tick_seconds)
    return Command(
        service=service,
        reader=IncidentReader(db=db, clock=clock, recorder=recorder),
        ticker=CadenceTicker(
            db=db, clock=clock, recorder=recorder, metrics=metrics, declarations=declarations, tenants=tenants
        ),
    )
