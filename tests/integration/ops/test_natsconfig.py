"""Partner credentials: a generated nats-server configuration, enforced by a real server."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.errors import Error as NatsError
from nats.errors import TimeoutError as NatsTimeout
from typer.testing import CliRunner

from services.cli import app
from services.platform.embedded_nats import EmbeddedNats, nats_server_binary
from services.platform.natsconfig import (
    PARTNER_API_PREFIX,
    NatsConfigError,
    ensure_partner_consumers,
    generate,
    inbox_prefix,
    load_credentials,
    read_partners,
)
from services.platform.settings import Settings
from services.platform.topology import ensure_streams
from tests.support.waiting import eventually

FAST = 4  # bcrypt cost for tests; production uses 11


# -- reading partner lists ---------------------------------------------------------------


def test_partners_from_a_comma_separated_list() -> None:
    assert read_partners("bri, bni,mandiri") == ["bri", "bni", "mandiri"]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("partners.toml", 'partners = ["bri", "bni"]\n'),
        ("partners.toml", '[[partners]]\nid = "bri"\n[[partners]]\nid = "bni"\n'),
        ("partners.json", '{"partners": [{"id": "bri"}, {"id": "bni"}]}'),
        ("partners.json", '["bri", "bni"]'),
        ("partners.txt", "# banks\nbri\n\nbni  # second\n"),
    ],
)
def test_partners_from_a_file(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert read_partners(str(path)) == ["bri", "bni"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bri,bank.x", "not usable as a subject token"),
        ("bri,a*", "not usable as a subject token"),
        (" , ", "no partner ids"),
        ("missing/partners.toml", "not found"),
    ],
)
def test_bad_partner_lists_are_refused_clearly(spec: str, message: str) -> None:
    with pytest.raises(NatsConfigError, match=message):
        read_partners(spec)


def test_a_malformed_partners_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "partners.toml"
    path.write_text("partners = [bri")
    with pytest.raises(NatsConfigError, match=r"partners\.toml"):
        read_partners(str(path))


# -- generated files ---------------------------------------------------------------------


def test_credentials_are_private_and_the_config_holds_only_hashes(tmp_path: Path) -> None:
    out = tmp_path / "nats.conf"
    result = generate(["bri", "bni"], out, services_password="s3cret-svc", bcrypt_cost=FAST)
    mode = stat.S_IMODE(result.credentials_path.stat().st_mode)
    assert mode == 0o600
    passwords = load_credentials(result.credentials_path)
    assert set(passwords) == {"kopdes", "simkopdes", "partner-bri", "partner-bni"}
    assert passwords["kopdes"] == "s3cret-svc"
    config = out.read_text()
    for password in passwords.values():
        assert password not in config
    assert config.count('password: "$2a$04$') == 4
    doc = json.loads(result.credentials_path.read_text())
    assert doc["users"]["partner-bri"]["inbox_prefix"] == "_INBOX_partner-bri"
    assert doc["users"]["partner-bri"]["jetstream_api_prefix"] == PARTNER_API_PREFIX
    assert "jetstream_api_prefix" not in doc["users"]["simkopdes"]
    check = subprocess.run(
        [nats_server_binary(), "-c", str(out), "-t"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr + check.stdout


def test_regenerating_keeps_passwords_unless_rotated(tmp_path: Path) -> None:
    out = tmp_path / "nats.conf"
    first = generate(["bri"], out, bcrypt_cost=FAST)
    before = load_credentials(first.credentials_path)
    second = generate(["bri", "bni"], out, bcrypt_cost=FAST)
    after = load_credentials(second.credentials_path)
    assert second.new_passwords == ("partner-bni",)
    assert {k: after[k] for k in before} == before
    third = generate(["bni"], out, rotate=True, bcrypt_cost=FAST)
    rotated = load_credentials(third.credentials_path)
    assert set(rotated) == {"kopdes", "simkopdes", "partner-bni"}  # bri removed
    assert rotated["partner-bni"] != after["partner-bni"]
    assert rotated["kopdes"] != after["kopdes"]


def test_cli_writes_both_files_and_refuses_bad_ids(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "conf" / "nats.conf"
    result = runner.invoke(
        app, ["nats-config", "--partners", "bri,bni", "--out", str(out), "--bcrypt-cost", "4"]
    )
    assert result.exit_code == 0, result.output
    assert out.exists()
    assert stat.S_IMODE((tmp_path / "conf" / "nats.credentials.json").stat().st_mode) == 0o600
    bad = runner.invoke(app, ["nats-config", "--partners", "bri,bank.x", "--out", str(out)])
    assert bad.exit_code == 2
    assert "bank.x" in bad.output


# -- a real nats-server enforcing it -----------------------------------------------------


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[tuple[EmbeddedNats, dict[str, str]]]:
    out = tmp_path / "nats.conf"
    result = generate(["bri", "bni"], out, store_dir=str(tmp_path / "js"), bcrypt_cost=FAST)
    with EmbeddedNats(tmp_path / "js", config_file=out) as server:
        yield server, load_credentials(result.credentials_path)


class Client:
    """A connection as one user, with the asynchronous errors the server sent it."""

    def __init__(self, nc: Any, errors: list[Exception]) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.errors = errors

    def violations(self) -> list[str]:
        return [str(e).lower() for e in self.errors if "permissions violation" in str(e).lower()]


@pytest.fixture
async def connect(
    secured: tuple[EmbeddedNats, dict[str, str]],
) -> AsyncIterator[Any]:
    server, passwords = secured
    clients: list[Any] = []

    async def as_user(user: str, *, own_inbox: bool = True) -> Client:
        errors: list[Exception] = []

        async def on_error(exc: Exception) -> None:
            errors.append(exc)

        options: dict[str, Any] = {"inbox_prefix": inbox_prefix(user)} if own_inbox else {}
        nc = await nats.connect(
            server.url,
            user=user,
            password=passwords[user],
            error_cb=on_error,
            allow_reconnect=False,
            **options,
        )
        clients.append(nc)
        return Client(nc, errors)

    services = await as_user("kopdes", own_inbox=False)
    await ensure_streams(services.js, Settings(nats_url=server.url))
    yield as_user
    for nc in clients:
        await nc.close()


async def test_partner_publishes_its_own_offers_with_jetstream_acks(connect: Any) -> None:
    bri = await connect("partner-bri")
    ack = await bri.js.publish("kopdes.offer.upserted.bri", b"{}", timeout=5)
    assert ack.stream == "KOPDES_INPUT"
    ack = await bri.js.publish("kopdes.offer.withdrawn.bri", b"{}", timeout=5)
    assert ack.stream == "KOPDES_INPUT"
    assert bri.violations() == []


async def test_partner_is_refused_on_another_partners_subject(connect: Any) -> None:
    bri = await connect("partner-bri")
    services = await connect("kopdes", own_inbox=False)
    with pytest.raises(NatsTimeout):
        await bri.js.publish("kopdes.offer.upserted.bni", b"{}", timeout=1)
    await eventually(bri.violations, timeout=5)
    assert 'publish to "kopdes.offer.upserted.bni"' in bri.violations()[0]
    info = await services.js.stream_info("KOPDES_INPUT")
    assert info.state.messages == 0  # the server dropped it: nothing reached the stream
    # Core publishes are refused the same way, as are other partners' withdrawals.
    await bri.nc.publish("kopdes.offer.withdrawn.bni", b"{}")
    await bri.nc.flush()
    await eventually(lambda: len(bri.violations()) >= 2, timeout=5)
    assert (await services.js.stream_info("KOPDES_INPUT")).state.messages == 0


async def test_partner_reads_only_its_own_notifications(connect: Any) -> None:
    bri = await connect("partner-bri")
    services = await connect("kopdes", own_inbox=False)
    own: asyncio.Queue[Any] = asyncio.Queue()
    other: asyncio.Queue[Any] = asyncio.Queue()
    await bri.nc.subscribe("kopdes.notify.partner.bri", cb=own.put)
    await bri.nc.subscribe("kopdes.notify.partner.bni", cb=other.put)
    await bri.nc.flush()
    await eventually(bri.violations, timeout=5)
    assert 'subscription to "kopdes.notify.partner.bni"' in bri.violations()[0]
    await services.js.publish("kopdes.notify.partner.bri", b'{"for": "bri"}')
    await services.js.publish("kopdes.notify.partner.bni", b'{"for": "bni"}')
    msg = await asyncio.wait_for(own.get(), timeout=5)
    assert json.loads(msg.data) == {"for": "bri"}
    await asyncio.sleep(0.3)
    assert other.empty()


async def test_partner_cannot_snoop_other_inboxes_or_the_jetstream_api(connect: Any) -> None:
    bri = await connect("partner-bri")
    await bri.nc.subscribe("_INBOX.>")
    await bri.nc.subscribe("kopdes.>")
    await bri.nc.flush()
    await eventually(lambda: len(bri.violations()) >= 2, timeout=5)
    with pytest.raises(NatsError):
        await bri.js.stream_info("KOPDES_INPUT")
    # A partner that does not use its own inbox prefix gets no acknowledgements.
    plain = await connect("partner-bri", own_inbox=False)
    with pytest.raises(NatsTimeout):
        await plain.js.publish("kopdes.offer.upserted.bri", b"{}", timeout=1)


async def test_simkopdes_publishes_profiles_but_not_offers(connect: Any) -> None:
    simkopdes = await connect("simkopdes")
    ack = await simkopdes.js.publish("kopdes.cooperative.upserted", b"{}", timeout=5)
    assert ack.stream == "KOPDES_INPUT"
    with pytest.raises(NatsTimeout):
        await simkopdes.js.publish("kopdes.offer.upserted.bri", b"{}", timeout=1)
    await eventually(simkopdes.violations, timeout=5)
    assert "kopdes.offer.upserted.bri" in simkopdes.violations()[0]


async def test_unknown_users_and_wrong_passwords_are_refused(
    secured: tuple[EmbeddedNats, dict[str, str]],
) -> None:
    server, passwords = secured
    for options in (
        {},
        {"user": "partner-bri", "password": passwords["partner-bni"]},
        {"user": "nobody", "password": "x"},
    ):
        with pytest.raises(NatsError):
            await nats.connect(
                server.url, allow_reconnect=False, max_reconnect_attempts=0, **options
            )


async def test_partner_catches_up_on_its_own_notifications_only(
    connect: Any, secured: tuple[EmbeddedNats, dict[str, str]]
) -> None:
    server, passwords = secured
    services = await connect("kopdes", own_inbox=False)
    # Sent while the partner was away.
    for n in (1, 2):
        await services.js.publish("kopdes.notify.partner.bri", f'{{"n": {n}}}'.encode())
    await services.js.publish("kopdes.notify.partner.bni", b'{"n": "bni"}')
    # The operator creates the partners' consumers, as the services' user.
    url = server.url.replace("nats://", f"nats://kopdes:{passwords['kopdes']}@")
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["partner-consumers", "--partners", "bri,bni", "--nats-url", url]
    )
    assert result.exit_code == 0, result.output
    bri = await connect("partner-bri")
    api = bri.nc.jetstream(prefix=PARTNER_API_PREFIX)

    # Another partner's consumer, or the services' API, is out of reach.
    with pytest.raises(NatsError):
        await api.pull_subscribe(
            "kopdes.notify.partner.bni", durable="partner-bni", stream="KOPDES_NOTIFY"
        )
    with pytest.raises(NatsError):
        await bri.js.consumer_info("KOPDES_NOTIFY", "partner-bri")

    # Its own durable consumer delivers exactly its own notifications, missed ones included.
    sub = await api.pull_subscribe(
        "kopdes.notify.partner.bri", durable="partner-bri", stream="KOPDES_NOTIFY"
    )
    msgs = await sub.fetch(10, timeout=2)
    assert [json.loads(m.data) for m in msgs] == [{"n": 1}, {"n": 2}]
    for msg in msgs:
        await msg.ack_sync(timeout=5)
    with pytest.raises(NatsTimeout):
        await sub.fetch(1, timeout=0.5)  # nothing else for bri; bni's stays out
    info = await services.js.consumer_info("KOPDES_NOTIFY", "partner-bri")
    assert info.config.filter_subject == "kopdes.notify.partner.bri"
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def _stored(services: Client) -> dict[str, dict[str, int]]:
    """Subjects and message counts of every stream, as the services' user sees them."""
    counts: dict[str, dict[str, int]] = {}
    for name in ("KOPDES_INPUT", "KOPDES_MATCH", "KOPDES_NOTIFY", "KOPDES_INTERNAL"):
        info = await services.js.stream_info(name, subjects_filter=">")
        counts[name] = dict(info.state.subjects or {})
    return counts


async def test_no_reply_or_deliver_subject_reaches_outside_the_partners_lane(
    connect: Any,
) -> None:
    services = await connect("kopdes", own_inbox=False)
    await ensure_partner_consumers(services.js, ["bri", "bni"])
    bri = await connect("partner-bri")
    api = f"{PARTNER_API_PREFIX}.CONSUMER.%s.KOPDES_NOTIFY.partner-bri"
    elsewhere = (
        "kopdes.offer.upserted.bni",
        "kopdes.offer.withdrawn.bni",
        "kopdes.match.decided",
        "kopdes.cooperative.upserted",
        "kopdes.internal.offer.changed",
        "kopdes.notify.partner.bni",
    )
    # The server answers each allowed request on the reply subject the partner names:
    # a JetStream acknowledgement, consumer information, a pull request's messages.
    await services.js.publish("kopdes.notify.partner.bri", b'{"n": 1}')
    for reply in elsewhere:
        await bri.nc.publish("kopdes.offer.upserted.bri", b"{}", reply=reply)
        await bri.nc.publish("kopdes.offer.withdrawn.bri", b"{}", reply=reply)
        await bri.nc.publish(api % "INFO", b"", reply=reply)
        await bri.nc.publish(api % "MSG.NEXT", b'{"batch": 1, "no_wait": true}', reply=reply)
    # A push consumer delivering into the services' subjects cannot even be asked for.
    for deliver in elsewhere[:3]:
        request = {
            "stream_name": "KOPDES_NOTIFY",
            "config": {
                "durable_name": "partner-bri",
                "deliver_subject": deliver,
                "filter_subject": "kopdes.notify.partner.bri",
                "ack_policy": "none",
            },
        }
        for subject in (
            f"{PARTNER_API_PREFIX}.CONSUMER.CREATE.KOPDES_NOTIFY.partner-bri",
            "$JS.API.CONSUMER.CREATE.KOPDES_NOTIFY.partner-bri.kopdes.notify.partner.bri",
            "$JS.API.CONSUMER.DURABLE.CREATE.KOPDES_NOTIFY.sneaky",
        ):
            await bri.nc.publish(subject, json.dumps(request).encode(), reply=deliver)
    await bri.nc.flush()
    await asyncio.sleep(1)  # what the server would send, it has sent by now

    stored = await _stored(services)
    # Only its own offer subjects hold anything it caused: nothing in another lane.
    assert set(stored["KOPDES_INPUT"]) <= {
        "kopdes.offer.upserted.bri",
        "kopdes.offer.withdrawn.bri",
    }
    assert stored["KOPDES_MATCH"] == {} and stored["KOPDES_INTERNAL"] == {}
    assert stored["KOPDES_NOTIFY"] == {"kopdes.notify.partner.bri": 1}
    names = {c.name for c in await services.js.consumers_info("KOPDES_NOTIFY")}
    assert names == {"partner-bri", "partner-bni"}
    assert any("consumer.create" in v for v in bri.violations())

    # And its normal work still goes through.
    ack = await bri.js.publish("kopdes.offer.upserted.bri", b"{}", timeout=5)
    assert ack.stream == "KOPDES_INPUT"
    simkopdes = await connect("simkopdes")
    await simkopdes.nc.publish("kopdes.cooperative.upserted", b"{}", reply="kopdes.match.decided")
    await simkopdes.nc.flush()
    await asyncio.sleep(0.5)
    assert (await _stored(services))["KOPDES_MATCH"] == {}
