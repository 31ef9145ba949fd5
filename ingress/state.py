"""What every route needs: settings, the Temporal client, the event log, the API keys."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from infra.settings import Settings
from ingress.dedupe import EventLog
from ingress.keys import ApiKeys
from ingress.metrics import IngressMetrics


@dataclass
class Ingress:
    """The app's collaborators (``app.state.ingress``)."""

    settings: Settings
    client: Client
    events: EventLog
    keys: ApiKeys
    clock: Callable[[], float] = field(default=time.time)
    metrics: IngressMetrics = field(default_factory=IngressMetrics)


def ingress(request: Request) -> Ingress:
    """FastAPI dependency: the app's ``Ingress``."""
    found: Ingress = request.app.state.ingress
    return found


IngressDep = Annotated[Ingress, Depends(ingress)]
