"""What a service contributes to a process: consumers, start-up steps, background tasks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from faststream.nats import NatsRouter


@dataclass
class ServiceParts:
    name: str
    routers: list[NatsRouter] = field(default_factory=list)
    # Run before the broker starts consuming (e.g. load state from the database).
    on_start: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Long-running tasks started once the broker runs, cancelled on shutdown.
    background: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # Anything tests or the CLI want to reach (the matchmaker, the web app).
    handle: Any = None
    # Durable consumers the service reads itself, outside its routers (for the stall watch).
    durables: list[str] = field(default_factory=list)
