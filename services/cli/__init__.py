"""The ``kopdes-match`` command line: one module per command group, assembled here.

Start-up stays light. The command modules import at their top only what loads quickly and
without SQLAlchemy or FastStream (typer, rich, pydantic, the settings, schemas/, matcher/),
so that ``--help`` answers at once and ``score`` never loads SQLAlchemy with the table
models (tests/e2e/test_score_command.py checks it). What a command needs beyond that (the
stages, storage, the NATS client) it imports in its body, under a ``# heavy:`` comment.
"""

from __future__ import annotations

import typer

from services.cli import (
    contract,
    coordinator,
    diagnostics,
    inbox,
    nats_setup,
    operations,
    publish,
    run,
    score,
    webhook,
)

app = typer.Typer(
    help="Matchmaking between village cooperatives (Koperasi Desa Merah Putih) and partners.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.command()(run.run)
app.command()(run.demo)
app.command()(publish.publish)
app.command()(score.score)
app.command()(diagnostics.deadletters)
app.command()(diagnostics.evaluate)
app.command("json-schemas")(contract.json_schemas)
app.command()(contract.asyncapi)
app.command("nats-config")(nats_setup.nats_config)
app.command("partner-consumers")(nats_setup.partner_consumers)
app.command()(operations.migrate)
app.command()(operations.health)
app.add_typer(coordinator.app, name="coordinator")
app.add_typer(webhook.app, name="webhook")
app.command()(inbox.inbox)
