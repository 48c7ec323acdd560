"""Webhooks: registration, signatures, and the worker that delivers notifications.

A delivery row is written in the transaction that records the notification; the worker
(a background task) claims due rows and POSTs them, so event consumption never waits on
a receiver. Failures and timeouts are retried with exponential backoff and full jitter
up to ``webhook_max_attempts`` tries; then the delivery is ``failed`` until an admin
retries it.

Signature (like Stripe's): ``X-Kopdes-Signature: t=<unix seconds>,v1=<hex>`` where
``hex = HMAC-SHA256(secret, f"{t}.{delivery_id}.{body}")`` over the exact bytes of the
body, ``delivery_id`` being ``X-Kopdes-Delivery-Id`` (the notification id). Receivers check
the HMAC and that ``t`` is recent, and refuse a delivery id they have already accepted:
a captured delivery replayed within the tolerance is then refused, and a delivery whose
answer was lost, sent again, is recognised.

URLs reach only the outside world (``destinations``): checked at registration and again,
pinned to the checked address, at every delivery. A failure is stored as its status code
or a fixed description, never the receiver's answer, which may echo internal data.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from services.notify.destinations import InternalAddress, check_url, resolve_target
from services.notify.events import notification_event
from services.platform.backoff import backoff_delay
from services.platform.settings import Settings
from services.storage.db import session_scope
from services.storage.models import (
    NotificationRow,
    WebhookDeliveryRow,
    WebhookDeliveryStatus,
    WebhookEndpointRow,
    stored_id,
)
from services.storage.types import utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Kopdes-Signature"
DELIVERY_HEADER = "X-Kopdes-Delivery-Id"
SIGNATURE_TOLERANCE_SECONDS = 300
RECIPIENT_TYPES = ("cooperative", "partner")


class WebhookError(ValueError):
    """A request an admin can correct (bad URL, unknown id); the message says what."""


class WebhookNotFound(WebhookError):
    pass


class WebhookConflict(WebhookError):
    """The delivery or endpoint is not in a state that allows the action."""


# Signing -------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int, delivery_id: str) -> str:
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    mac = hmac.new(secret.encode(), signed, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    delivery_id: str,
    *,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """What a receiver does (README has the same in a standalone snippet)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp, delivery_id).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


# Registration --------------------------------------------------------------------------


def _check_url(url: str, allowed_hosts: Collection[str]) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError(f"URL webhook harus http:// atau https:// dengan nama host: {url!r}")
    if len(url) > 2000:
        raise WebhookError("URL webhook terlalu panjang (maksimal 2000 karakter)")
    try:
        check_url(url, allowed_hosts)
    except InternalAddress as exc:
        raise WebhookError(str(exc)) from None
    return url


def register_endpoint(
    session: Session,
    recipient_type: str,
    recipient_id: str,
    url: str,
    *,
    allowed_hosts: Collection[str] = (),
) -> tuple[WebhookEndpointRow, str]:
    """Register (or re-activate with a new secret) a URL; returns the row and its secret.

    ``allowed_hosts``: hosts allowed even at an internal address (the operator's setting).
    """
    if recipient_type not in RECIPIENT_TYPES:
        raise WebhookError(
            f"recipient_type harus 'cooperative' atau 'partner', bukan {recipient_type!r}"
        )
    if not recipient_id or len(recipient_id) > 64:
        raise WebhookError("recipient_id wajib diisi (1–64 karakter)")
    url = _check_url(url, allowed_hosts)
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = session.exec(
        select(WebhookEndpointRow).where(
            WebhookEndpointRow.recipient_type == recipient_type,
            WebhookEndpointRow.recipient_id == recipient_id,
            WebhookEndpointRow.url == url,
        )
    ).first()
    if row is None:
        row = WebhookEndpointRow(
            recipient_type=recipient_type,
            recipient_id=recipient_id,
            url=url,
            secret=secret,
            created_at=utcnow(),
        )
        session.add(row)
    else:
        row.secret, row.active = secret, True
    session.flush()
    return row, secret


def list_endpoints(session: Session) -> list[WebhookEndpointRow]:
    query = select(WebhookEndpointRow).order_by(col(WebhookEndpointRow.id))
    return list(session.exec(query).all())


def deactivate_endpoint(session: Session, endpoint_id: int) -> WebhookEndpointRow:
    row = session.get(WebhookEndpointRow, endpoint_id)
    if row is None:
        raise WebhookNotFound(f"webhook {endpoint_id} tidak ditemukan")
    row.active = False
    session.exec(
        update(WebhookDeliveryRow)
        .where(
            col(WebhookDeliveryRow.endpoint_id) == endpoint_id,
            col(WebhookDeliveryRow.status) == WebhookDeliveryStatus.PENDING,
        )
        .values(status=WebhookDeliveryStatus.FAILED, last_error="webhook dinonaktifkan")
    )
    return row


def schedule_deliveries(session: Session, notification: NotificationRow, now: datetime) -> int:
    """One delivery per active endpoint of the recipient, in the caller's transaction."""
    endpoints = session.exec(
        select(WebhookEndpointRow).where(
            WebhookEndpointRow.recipient_type == notification.recipient_type,
            WebhookEndpointRow.recipient_id == notification.recipient_id,
            col(WebhookEndpointRow.active).is_(True),
        )
    ).all()
    for endpoint in endpoints:
        session.add(
            WebhookDeliveryRow(
                notification_id=notification.notification_id,
                endpoint_id=stored_id(endpoint.id),
                next_attempt_at=now,
                created_at=now,
            )
        )
    return len(endpoints)


def deliveries(
    session: Session, status: WebhookDeliveryStatus | None = None, limit: int = 200
) -> list[WebhookDeliveryRow]:
    query = select(WebhookDeliveryRow).order_by(col(WebhookDeliveryRow.id).desc()).limit(limit)
    if status is not None:
        query = query.where(WebhookDeliveryRow.status == status)
    return list(session.exec(query).all())


def retry_delivery(session: Session, delivery_id: int, now: datetime) -> WebhookDeliveryRow:
    """An admin's retry: a failed delivery gets a fresh round of tries, starting now."""
    row = session.get(WebhookDeliveryRow, delivery_id)
    if row is None:
        raise WebhookNotFound(f"pengiriman {delivery_id} tidak ditemukan")
    if row.status != WebhookDeliveryStatus.FAILED:
        raise WebhookConflict(
            f"pengiriman {delivery_id} berstatus {row.status}; hanya yang gagal bisa diulang"
        )
    endpoint = session.get(WebhookEndpointRow, row.endpoint_id)
    if endpoint is None or not endpoint.active:
        raise WebhookConflict(f"webhook pengiriman {delivery_id} sudah tidak aktif")
    row.status, row.attempts, row.next_attempt_at = WebhookDeliveryStatus.PENDING, 0, now
    return row


# Delivery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    delivery_id: int
    notification_id: str
    url: str
    secret: str
    body: bytes
    attempts: int


class WebhookWorker:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        now: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.now = now
        self.rng = rng or random.Random()
        self.transport = transport
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    def _claim(self, limit: int) -> list[Job]:
        """Take due deliveries by pushing their next attempt past the request's timeout,
        so another worker (another process) does not send them at the same time, and a
        worker that dies mid-request leaves them to be tried again."""
        now = self.now()
        lease = now + timedelta(seconds=self.settings.webhook_timeout_seconds + 30)
        jobs: list[Job] = []
        with session_scope(self.engine) as session:
            rows = session.exec(
                select(WebhookDeliveryRow, WebhookEndpointRow, NotificationRow)
                .join(
                    WebhookEndpointRow,
                    col(WebhookEndpointRow.id) == col(WebhookDeliveryRow.endpoint_id),
                )
                .join(
                    NotificationRow,
                    col(NotificationRow.notification_id) == col(WebhookDeliveryRow.notification_id),
                )
                .where(
                    WebhookDeliveryRow.status == WebhookDeliveryStatus.PENDING,
                    col(WebhookDeliveryRow.next_attempt_at) <= now,
                )
                .order_by(col(WebhookDeliveryRow.next_attempt_at))
                .limit(limit)
            ).all()
            for delivery, endpoint, notification in rows:
                taken = session.exec(
                    update(WebhookDeliveryRow)
                    .where(
                        col(WebhookDeliveryRow.id) == delivery.id,
                        col(WebhookDeliveryRow.status) == WebhookDeliveryStatus.PENDING,
                        col(WebhookDeliveryRow.next_attempt_at) == delivery.next_attempt_at,
                    )
                    .values(next_attempt_at=lease)
                    .execution_options(synchronize_session=False)
                )
                if taken.rowcount == 1:
                    jobs.append(
                        Job(
                            delivery_id=stored_id(delivery.id),
                            notification_id=notification.notification_id,
                            url=endpoint.url,
                            secret=endpoint.secret,
                            body=notification_event(notification).model_dump_json().encode(),
                            attempts=delivery.attempts,
                        )
                    )
        return jobs

    def _record(self, job: Job, error: str | None) -> None:
        now = self.now()
        with session_scope(self.engine) as session:
            row = session.get(WebhookDeliveryRow, job.delivery_id)
            if row is None or row.status != WebhookDeliveryStatus.PENDING:
                return
            row.attempts = job.attempts + 1
            if error is None:
                row.status, row.delivered_at, row.last_error = (
                    WebhookDeliveryStatus.DELIVERED,
                    now,
                    "",
                )
                return
            row.last_error = error
            if row.attempts >= self.settings.webhook_max_attempts:
                row.status = WebhookDeliveryStatus.FAILED
                log.warning(
                    "webhook delivery %s to %s failed after %d tries: %s",
                    job.delivery_id,
                    job.url,
                    row.attempts,
                    error,
                )
            else:
                delay = backoff_delay(
                    row.attempts,
                    self.settings.webhook_base_delay_seconds,
                    self.settings.webhook_max_delay_seconds,
                    self.rng,
                )
                row.next_attempt_at = now + timedelta(seconds=delay)

    async def _send(self, client: httpx.AsyncClient, job: Job) -> str | None:
        """Post one delivery; None on a 2xx answer, else a fixed description of the failure.

        Never the receiver's body or the exception's text: they may carry what the
        receiver's network holds, and the admin page shows this.
        """
        try:
            target = await resolve_target(job.url, self.settings.webhook_hosts_allowed)
        except InternalAddress:
            return "alamat tujuan internal ditolak"
        except (OSError, UnicodeError):
            return "nama host tidak ditemukan"
        headers = {
            **target.headers,
            "Content-Type": "application/json",
            "User-Agent": "kopdes-match-webhook/1",
            SIGNATURE_HEADER: sign(job.secret, job.body, int(time.time()), job.notification_id),
            DELIVERY_HEADER: job.notification_id,
        }
        try:
            response = await client.post(
                target.url, content=job.body, headers=headers, extensions=target.extensions
            )
        except httpx.TimeoutException:
            return f"tidak ada jawaban dalam {self.settings.webhook_timeout_seconds:g} detik"
        except httpx.ConnectError:
            return "tidak dapat terhubung ke penerima"
        except httpx.HTTPError:
            return "kesalahan jaringan atau protokol"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"

    async def deliver_due(self) -> int:
        """One pass: send every due delivery; returns how many were tried."""
        limit = max(1, self.settings.webhook_concurrency)
        timeout = httpx.Timeout(self.settings.webhook_timeout_seconds)
        tried = 0
        async with httpx.AsyncClient(
            timeout=timeout, transport=self.transport, follow_redirects=False
        ) as client:

            async def one(job: Job) -> None:
                error = await self._send(client, job)
                await asyncio.to_thread(self._record, job, error)

            while True:
                jobs = await asyncio.to_thread(self._claim, limit)
                await asyncio.gather(*(one(job) for job in jobs))
                tried += len(jobs)
                # A short claim means nothing else is due; a retry due at once waits for
                # the next pass rather than spinning here.
                if len(jobs) < limit:
                    return tried

    async def run(self) -> None:
        # The first pass waits one interval (or a wake-up), leaving the start of the
        # process to the consumers; deliveries left by a previous run are then sent.
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), timeout=self.settings.webhook_poll_seconds
                )
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception:  # database away: keep the rows, try again later
                log.exception("webhook pass failed; will retry")
