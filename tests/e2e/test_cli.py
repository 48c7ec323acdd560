"""The CLI as a newcomer uses it: demo, publish, deadletters, run --embedded."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time

import nats
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.platform.embedded_nats import free_port, is_reachable
from services.storage.db import make_engine, session_scope
from services.storage.migrate import create_schema
from services.storage.models import DeadLetterRow
from services.storage.types import utcnow
from tests.support import builders

runner = CliRunner()


@pytest.mark.slow
def test_demo_prints_suggestions_with_explanations(tmp_path):
    result = runner.invoke(app, ["demo", "--limit", "60", "--data-dir", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "60 koperasi desa di Kalimantan Barat" in out
    assert "Bank Rakyat Indonesia" in out or "BRI" in out
    assert "1. Koperasi Desa Merah Putih" in out or "1. Koperasi Kelurahan Merah Putih" in out
    assert "skor" in out
    assert "saran menunggu keputusan koordinator" in out
    # Its data stays inspectable with the other commands.
    listed = runner.invoke(app, ["deadletters", "--data-dir", str(tmp_path / "demo")])
    assert listed.exit_code == 0
    assert "no dead letters" in listed.stdout


def declare_streams(url: str) -> None:
    from services.pipeline.app import declare_streams as declare
    from services.platform.settings import Settings

    asyncio.run(declare(Settings(nats_url=url)))


async def stored(url: str, stream: str) -> list:
    nc = await nats.connect(url)
    js = nc.jetstream()
    info = await js.stream_info(stream)
    messages = [await js.get_msg(stream, seq) for seq in range(1, info.state.last_seq + 1)]
    await nc.close()
    return messages


def test_publish_infers_subjects_and_ids(nats_server, tmp_path):
    declare_streams(nats_server.url)
    events = tmp_path / "events.jsonl"
    lines = [
        json.dumps(builders.profile()),
        json.dumps(builders.offer()),
        json.dumps(builders.withdrawal()),
        "{not json",
        json.dumps({"hello": "world"}),
    ]
    events.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["publish", str(events), "--nats-url", nats_server.url])
    assert result.exit_code == 2
    assert "published 3 event(s)" in result.stdout
    assert f"{events}:4: not JSON" in result.stderr
    assert f"{events}:5: cannot tell the subject" in result.stderr
    subjects = asyncio.run(stored(nats_server.url, "KOPDES_INPUT"))
    assert [m.subject for m in subjects] == [
        "kopdes.cooperative.upserted",
        "kopdes.offer.upserted.bri",
        "kopdes.offer.withdrawn.bri",
    ]
    assert subjects[0].headers["Nats-Msg-Id"] == "KDMP-6112012004:2026-11-01T08:00:00+07:00"
    # Published again: JetStream's duplicate window drops them by Nats-Msg-Id.
    runner.invoke(app, ["publish", str(events), "--nats-url", nats_server.url])
    assert len(asyncio.run(stored(nats_server.url, "KOPDES_INPUT"))) == 3


def test_publish_a_json_array_to_a_given_subject(nats_server, tmp_path):
    declare_streams(nats_server.url)
    events = tmp_path / "coops.json"
    events.write_text(json.dumps([builders.profile(), builders.profile(cooperative_id="b")]))
    result = runner.invoke(
        app,
        [
            "publish",
            str(events),
            "--subject",
            "kopdes.cooperative.upserted",
            "--nats-url",
            nats_server.url,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "published 2 event(s)" in result.stdout


def test_deadletters_lists_reasons(tmp_path):
    url = f"sqlite:///{tmp_path / 'kopdes.db'}"
    engine = make_engine(url)
    create_schema(engine)
    with session_scope(engine) as session:
        session.add(
            DeadLetterRow(
                subject="kopdes.cooperative.upserted",
                reason="member_count: Input should be greater than or equal to 0",
                error_type="validation_error",
                raw='{"member_count": -1}',
                source="KOPDES_INPUT:7",
                received_at=utcnow(),
            )
        )
    result = runner.invoke(app, ["deadletters", "--database-url", url, "--raw"])
    assert result.exit_code == 0
    assert "validation_error" in result.stdout
    assert "member_count" in result.stdout
    filtered = runner.invoke(
        app, ["deadletters", "--database-url", url, "--error-type", "invalid_json"]
    )
    assert "no dead letters" in filtered.stdout


@pytest.mark.slow
def test_run_starts_an_embedded_nats_when_none_is_reachable_and_stops_on_sigint(tmp_path):
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    assert not is_reachable(url)
    process = subprocess.Popen(
        [sys.executable, "-m", "services", "run", "--nats-url", url, "--data-dir", str(tmp_path)],
        env={**os.environ},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while not is_reachable(url) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert is_reachable(url), "the embedded nats-server listens on the configured port"

        async def streams() -> list[str]:
            nc = await nats.connect(url)
            names: list[str] = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and "KOPDES_INPUT" not in names:
                infos = await nc.jetstream().streams_info()
                names = [s.config.name for s in infos if s.config.name is not None]
            await nc.close()
            return names

        assert "KOPDES_INPUT" in asyncio.run(streams())
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert not is_reachable(url), "the embedded server stops with the service"
    finally:
        if process.poll() is None:
            process.kill()


def test_evaluate_reports_matcher_and_baseline():
    result = runner.invoke(app, ["evaluate"])
    assert result.exit_code == 0, result.output
    for text in (
        "matcher_eval_dev.json",
        "matcher_eval_heldout.json",
        "baseline",
        "nDCG@10",
        "met",
    ):
        assert text in result.stdout


def test_evaluate_fails_when_targets_are_missed(tmp_path):
    from tests.support.eval_sets import DATA  # the committed dev set

    data = json.loads((DATA / "matcher_eval_dev.json").read_text())
    # Judge every pair the other way round: the matcher can no longer meet the targets.
    for judgment in data["judgments"]:
        judgment["grade"] = 3 - judgment["grade"]
    upside_down = tmp_path / "upside_down.json"
    upside_down.write_text(json.dumps(data))
    result = runner.invoke(app, ["evaluate", str(upside_down)])
    assert result.exit_code == 1
