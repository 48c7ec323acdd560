"""NATS for partners: ``nats-config`` (users and permissions) and ``partner-consumers``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from services.cli.common import NatsUrl, console, err_console, load_settings


def nats_config(
    partners: Annotated[
        str,
        typer.Option(
            help="partner ids: a file (TOML/JSON `partners = [...]`, or one id a line) "
            "or a comma-separated list such as bri,bni"
        ),
    ],
    out: Annotated[Path, typer.Option(help="nats-server configuration to write")] = Path(
        "nats.conf"
    ),
    credentials: Annotated[
        Path | None,
        typer.Option(help="plain passwords, mode 0600 (default: <out>.credentials.json)"),
    ] = None,
    services_password: Annotated[
        str | None,
        typer.Option(
            envvar="KOPDES_NATS_SERVICES_PASSWORD",
            help="password of the services' user `kopdes` (default: kept or generated)",
        ),
    ] = None,
    rotate: Annotated[bool, typer.Option(help="generate new passwords for everyone")] = False,
    store_dir: Annotated[str, typer.Option(help="JetStream store_dir in the config")] = (
        "/data/jetstream"
    ),
    bcrypt_cost: Annotated[int, typer.Option(min=4, max=31, help="bcrypt cost factor")] = 11,
) -> None:
    """Write a nats-server configuration with one user per partner (publish own offers only)."""
    # heavy: natsconfig declares consumers with FastStream's topology; only when run
    from services.platform.natsconfig import NatsConfigError, generate, read_partners

    try:
        result = generate(
            read_partners(partners),
            out,
            credentials=credentials,
            services_password=services_password,
            rotate=rotate,
            store_dir=store_dir,
            bcrypt_cost=bcrypt_cost,
        )
    except NatsConfigError as exc:
        err_console.print(f"nats-config: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    table = Table("user", "role", "password", title=f"Users in {result.config_path}")
    for user in result.users:
        state = "new" if user.name in result.new_passwords else "kept"
        table.add_row(user.name, user.role, state)
    console.print(table)
    console.print(f"passwords in {result.credentials_path} (mode 0600): hand out, then keep safe")


def partner_consumers(
    partners: Annotated[
        str, typer.Option(help="partner ids: the file or list given to nats-config")
    ],
    nats_url: NatsUrl = None,
) -> None:
    """Create each partner's notification consumer `partner-<id>` (partners may not)."""
    # heavy: the NATS client and FastStream's topology; only when run
    import nats

    from services.platform.natsconfig import (
        NatsConfigError,
        ensure_partner_consumers,
        read_partners,
    )
    from services.platform.topology import ensure_streams

    settings = load_settings(nats_url, None, None)
    try:
        ids = read_partners(partners)
    except NatsConfigError as exc:
        err_console.print(f"partner-consumers: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None

    async def main() -> None:
        nc = await nats.connect(settings.nats_servers, name="kopdes-match-setup")
        try:
            await ensure_streams(nc.jetstream(), settings)
            await ensure_partner_consumers(nc.jetstream(), ids)
        finally:
            await nc.close()

    asyncio.run(main())
    console.print(f"notification consumers ready for {len(ids)} partner(s) on KOPDES_NOTIFY")
