"""An approval in the dashboard, in a real browser, reaches the cooperative: the inbox page
shows it, a loopback webhook receives it signed; a failed delivery is retried by an admin's
click. Playwright drives Debian's Chromium, as in ``test_review_browser.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from schemas import subjects
from services.notify.webhooks import register_endpoint
from services.review.accounts import add_coordinator
from services.review.models import CoordinatorCreate
from services.storage.db import session_scope
from services.storage.models import Role, WebhookDeliveryRow, WebhookDeliveryStatus
from tests import builders
from tests.conftest import eventually
from tests.e2e.test_review_browser import CHROMIUM, CHROMIUM_ARGS
from tests.harness import Harness
from tests.notify.receiver import Receiver

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
    ),
]

PASSWORD = "kata-sandi-admin-12"
COOP = "KDMP-6112012004"


def deliveries(h: Harness) -> list[WebhookDeliveryRow]:
    with Session(h.pipeline.runtime.engine) as session:
        return list(session.exec(select(WebhookDeliveryRow)).all())


async def test_approval_in_the_dashboard_reaches_inbox_page_and_webhooks(settings, tmp_path):
    playwright_api = pytest.importorskip("playwright.async_api")
    config = settings.model_copy(
        update={
            "webhook_max_attempts": 1,
            "webhook_poll_seconds": 0.1,
            "webhook_base_delay_seconds": 0.05,
        }
    )
    with Receiver() as coop_hook, Receiver(script=[500]) as partner_hook:
        async with Harness(config, ["ingest", "matcher", "review", "notify"]) as h:
            await h.publish("kopdes.cooperative.upserted", builders.profile())
            await h.publish("kopdes.offer.upserted.bri", builders.offer())
            await h.settle()
            engine = h.pipeline.runtime.engine
            add_coordinator(
                engine,
                CoordinatorCreate(
                    username="admin",
                    full_name="Admin",
                    role=Role.ADMIN,
                    scope=[],
                    password=PASSWORD,
                ),
            )
            with session_scope(engine) as session:
                allowed = config.webhook_hosts_allowed  # the loopback receivers
                _, coop_secret = register_endpoint(
                    session, "cooperative", COOP, coop_hook.url, allowed_hosts=allowed
                )
                register_endpoint(
                    session, "partner", "bri", partner_hook.url, allowed_hosts=allowed
                )
            base = f"http://127.0.0.1:{config.web_port}"

            async with playwright_api.async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = await browser.new_page(viewport={"width": 390, "height": 844})
                await page.goto(f"{base}/login")
                await page.fill("input[name=username]", "admin")
                await page.fill("input[name=password]", PASSWORD)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{base}/")

                # Approve the one suggestion, with a note.
                await page.locator("ul.queue li.item a.body").first.click()
                await page.wait_for_url("**/suggestions/*")
                await page.select_option(
                    ".approve-box select[name=reason_code]", "sesuai_kebutuhan"
                )
                note = page.locator(".approve-box textarea[name=note]")
                if await note.count():
                    await note.fill("Siapkan NIB minggu ini.")
                await page.click(".approve-box button[type=submit]")
                await page.click("main form button.approve")  # the confirmation
                await page.wait_for_selector(".flash")
                assert "Saran disetujui" in await page.inner_text(".flash")

                # The notifications go out; the inbox page shows the cooperative's.
                await h.settle()
                await eventually(lambda: coop_hook.accepted())
                await page.click("header nav a[href='/notifikasi']")
                await page.wait_for_url("**/notifikasi")
                await page.click(f"a[href*='recipient_id={COOP}']")
                await page.wait_for_selector("article.unread")
                text = await page.inner_text("main")
                assert "1 belum dibaca" in text and "Kemitraan disetujui" in text
                assert "Bank Rakyat Indonesia" in text
                await page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)
                await page.click("article.unread button[type=submit]")
                await page.wait_for_selector("article:not(.unread)")
                assert "0 belum dibaca" in await page.inner_text("main")

                # The partner's receiver failed (bound of 1 try): an admin retries it.
                await eventually(
                    lambda: any(d.status == WebhookDeliveryStatus.FAILED for d in deliveries(h))
                )
                await page.goto(f"{base}/admin/webhook")
                assert "HTTP 500" in await page.inner_text("#failed")
                await page.click("#failed button[type=submit]")
                await page.wait_for_url("**/admin/webhook?diulang=*")
                assert "dijadwalkan ulang" in await page.inner_text("main")
                await page.screenshot(path=str(tmp_path / "webhooks.png"), full_page=True)
                await browser.close()

            await eventually(
                lambda: all(d.status == WebhookDeliveryStatus.DELIVERED for d in deliveries(h))
            )
            notified = h.of(subjects.notify_cooperative(COOP))
    assert len(notified) == 1
    [got] = coop_hook.accepted()
    from services.notify.webhooks import verify

    assert verify(
        coop_secret,
        got.body,
        got.headers["x-kopdes-signature"],
        got.headers["x-kopdes-delivery-id"],
    )
    assert [r.answered for r in partner_hook.received] == [500, 200]
