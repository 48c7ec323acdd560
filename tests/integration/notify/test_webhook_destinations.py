"""Webhooks reach only the outside world, store no answer body, and sign the delivery id.

No test sends traffic anywhere but loopback: private, link-local and multicast ranges are
checked on addresses alone, and registration only resolves IP literals and ``localhost``.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlmodel import Session, select

from services.notify.destinations import InternalAddress, internal_kind, resolve_target
from services.notify.webhooks import WebhookError, register_endpoint, sign, verify
from services.storage.db import session_scope
from services.storage.models import WebhookDeliveryRow, WebhookDeliveryStatus
from tests.integration.notify.test_webhooks import SERVICES, fast
from tests.support.harness import Harness
from tests.support.notify_steps import COOP_ID, decide, suggested
from tests.support.waiting import eventually
from tests.support.webhook_receiver import Receiver


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.10", "private"),
        ("fd12:3456::1", "private"),
        ("::ffff:10.0.0.5", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.251", "multicast"),
        ("239.1.2.3", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "not public"),
        ("240.0.0.1", "private"),  # reserved (240/4): Python counts it as private
    ],
)
def test_internal_addresses_are_recognised(address: str, kind: str) -> None:
    assert internal_kind(address) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "36.86.63.182", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert internal_kind(address) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:5432/",
        "http://localhost:8080/hook",
        "https://LOCALHOST/hook",
        "http://[::1]:9100/metrics",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0:8000/",
        "http://2130706433/",  # 127.0.0.1 as one decimal number
        "http://0177.0.0.1/",  # octal
        "http://0x7f.1/",  # hexadecimal, short form
        "http://127.1/",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "http://224.0.0.1/",
    ],
)
def test_registration_refuses_internal_addresses(engine, url: str) -> None:
    with session_scope(engine) as session, pytest.raises(WebhookError, match="alamat internal"):
        register_endpoint(session, "partner", "bri", url)


def test_the_allow_setting_lets_only_the_named_hosts_through(engine) -> None:
    allowed = {"127.0.0.1"}
    with session_scope(engine) as session:
        row, _ = register_endpoint(
            session, "partner", "bri", "http://127.0.0.1:8080/hook", allowed_hosts=allowed
        )
        assert row.id is not None
        for url in ("http://localhost:8080/hook", "http://[::1]:8080/", "http://2130706433/"):
            with pytest.raises(WebhookError, match="alamat internal"):
                register_endpoint(session, "partner", "bri", url, allowed_hosts=allowed)


def test_the_signature_covers_the_delivery_id() -> None:
    now = int(time.time())
    header = sign("whsec_x", b"{}", now, "nt-1")
    assert verify("whsec_x", b"{}", header, "nt-1")
    assert not verify("whsec_x", b"{}", header, "nt-2")
    assert sign("whsec_x", b"{}", now, "nt-1") != sign("whsec_x", b"{}", now, "nt-2")


def _rows(h: Harness) -> list[WebhookDeliveryRow]:
    with Session(h.pipeline.runtime.engine) as session:
        return list(session.exec(select(WebhookDeliveryRow)).all())


async def _approved_and_failed(h: Harness, url: str, allowed: frozenset[str]) -> Any:
    """Register ``url`` for the cooperative (allowing ``allowed``), approve its suggestion,
    and wait until the delivery has failed."""
    with session_scope(h.pipeline.runtime.engine) as session:
        register_endpoint(session, "cooperative", COOP_ID, url, allowed_hosts=allowed)
    row = await suggested(h)
    await decide(h, row.suggestion_id)
    await h.settle()
    [failed] = await eventually(
        lambda: [r for r in _rows(h) if r.status == WebhookDeliveryStatus.FAILED]
    )
    return failed


async def test_a_failure_stores_the_status_only_never_the_body(settings) -> None:
    secret_body = b"INTERNAL-ONLY: db_password=hunter2"
    config = fast(settings, webhook_max_attempts=2)
    with Receiver(then=500, body=secret_body) as receiver:
        async with Harness(config, SERVICES) as h:
            failed = await _approved_and_failed(h, receiver.url, config.webhook_hosts_allowed)
    assert len(receiver.received) == 2
    assert failed.last_error == "HTTP 500"


async def test_delivery_checks_the_address_again(settings) -> None:
    """Registered while allowed; the operator then withdraws the allowance (as DNS could
    change a name's address): the worker refuses to send, and says why."""
    config = fast(settings, webhook_max_attempts=2)
    with Receiver() as receiver:
        async with Harness(config.model_copy(update={"webhook_allowed_hosts": ""}), SERVICES) as h:
            failed = await _approved_and_failed(h, receiver.url, config.webhook_hosts_allowed)
    assert receiver.received == []
    assert failed.last_error == "alamat tujuan internal ditolak"


async def test_delivery_goes_to_the_address_it_checked() -> None:
    """The request is pinned: to the resolved address, with the URL's host as Host header
    and as TLS server name (resolving an IP literal sends no traffic)."""
    target = await resolve_target("https://36.86.63.182:8443/kopdes?x=1", ())
    assert str(target.url) == "https://36.86.63.182:8443/kopdes?x=1"
    assert target.headers == {"Host": "36.86.63.182:8443"}
    assert target.extensions == {"sni_hostname": "36.86.63.182"}
    with pytest.raises(InternalAddress):
        await resolve_target("http://[::ffff:10.0.0.5]/", ())
    allowed = await resolve_target("http://127.0.0.1:9/h", {"127.0.0.1"})
    assert (str(allowed.url), allowed.headers) == ("http://127.0.0.1:9/h", {})
