"""``run`` (the services in the foreground) and ``demo`` (the self-contained demo)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer

from services.cli.common import (
    DatabaseUrl,
    DataDir,
    NatsUrl,
    configure_logging,
    console,
    err_console,
    load_settings,
)
from services.platform.embedded_nats import EmbeddedNats, is_reachable


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, installed before anything starts."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _until_stopped() -> None:
    await _stop_on_signals().wait()


def run(
    services: Annotated[
        list[str] | None,
        typer.Argument(help="services to run (default: all): ingest, matcher, review, notify"),
    ] = None,
    embedded: Annotated[
        bool, typer.Option(help="start an embedded nats-server (also when none is reachable)")
    ] = False,
    nats_url: NatsUrl = None,
    database_url: DatabaseUrl = None,
    data_dir: DataDir = None,
    verbose: bool = False,
) -> None:
    """Run the services in the foreground until SIGINT or SIGTERM."""
    # heavy: every stage, with SQLAlchemy and FastStream; only when the services run
    from services.matching.ownership import SecondMatcherError
    from services.pipeline.app import STOP_TIMEOUT_SECONDS, Pipeline

    settings = load_settings(nats_url, database_url, data_dir)
    configure_logging(verbose, settings.log_format)
    log = logging.getLogger("kopdes-match")

    async def main() -> None:
        stop = _stop_on_signals()
        executor = _own_executor()
        server: EmbeddedNats | None = None
        fallback = settings.embedded_fallback and not is_reachable(settings.nats_url)
        if embedded or fallback:
            port = int(settings.nats_url.rsplit(":", 1)[-1]) if not embedded else None
            server = await EmbeddedNats(settings.data_dir / "nats", port).__aenter__()
            settings.nats_url = server.url
            log.info("embedded nats-server listening on %s", server.url)
        try:
            pipeline = Pipeline(settings, services or None)
            try:
                await pipeline.start()
            except SecondMatcherError as refused:
                await pipeline.stop()
                err_console.print(f"[red]{refused}[/red]")
                raise typer.Exit(2) from None
            log.info("running %s; database %s", ", ".join(pipeline.parts), settings.sqlalchemy_url)
            await stop.wait()
            log.info("stopping")
            await pipeline.stop()
        finally:
            if server is not None:
                await server.__aexit__()
        executor.shutdown(wait=False, cancel_futures=True)
        await _threads_stopped(log, STOP_TIMEOUT_SECONDS)

    asyncio.run(main())


HANDLER_THREADS = "kopdes-handler"


def _own_executor() -> ThreadPoolExecutor:
    """Handlers run their batches with asyncio.to_thread: in threads named so that the stop
    can tell whether one is still busy (asyncio.run itself would wait for them forever)."""
    executor = ThreadPoolExecutor(thread_name_prefix=HANDLER_THREADS)
    asyncio.get_running_loop().set_default_executor(executor)
    return executor


async def _threads_stopped(log: logging.Logger, timeout: float) -> None:
    """Wait a bounded time for the handlers' threads (a batch in its database call).

    A handler stuck on a database lock would otherwise keep a stopping process alive until
    the orchestrator kills it. Its transaction was not committed, so its messages were not
    acknowledged and are redelivered after a restart.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [t for t in threading.enumerate() if t.name.startswith(HANDLER_THREADS)]
        if not any(t.is_alive() for t in busy):
            return
        await asyncio.sleep(0.1)
    log.error("a handler is still busy %.0f s after the stop; exiting without it", timeout)
    logging.shutdown()
    os._exit(1)


def demo(
    limit: Annotated[
        int | None, typer.Option(help="cooperatives to publish (default: all 2,145 villages)")
    ] = None,
    top: Annotated[int, typer.Option(help="suggestions to print per offer")] = 3,
    data_dir: Annotated[Path, typer.Option(help="folder for the demo's NATS and SQLite")] = Path(
        "data/demo"
    ),
    keep: Annotated[bool, typer.Option(help="keep the data of an earlier demo run")] = False,
    serve: Annotated[
        bool, typer.Option(help="keep the pipeline and review dashboard running until Ctrl-C")
    ] = False,
    verbose: bool = False,
) -> None:
    """Self-contained demo: embedded NATS, SQLite, Kalimantan Barat data, best suggestions."""
    # heavy: the whole pipeline, with SQLAlchemy and FastStream; only when the demo runs
    from services.demo.run import run_demo

    configure_logging(verbose)
    asyncio.run(
        run_demo(
            console,
            data_dir=data_dir,
            limit=limit,
            top=top,
            fresh=not keep,
            serve_until=_until_stopped if serve else None,
        )
    )
