"""A coordinator in a real browser: log in, filter the queue, approve one, reject another,
and both ``kopdes.match.decided`` events arrive on a real nats-server.

Playwright drives Debian's Chromium (``apt-get install chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.review.accounts import add_coordinator
from services.review.models import CoordinatorCreate
from services.storage.models import Role
from tests import builders
from tests.harness import Harness

CHROMIUM = os.environ.get("KOPDES_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
    ),
]

PASSWORD = "kata-sandi-browser-1"
COOPS = "kopdes.cooperative.upserted"
DECIDED = "kopdes.match.decided"


async def test_coordinator_decides_in_the_browser(settings, tmp_path):
    playwright_api = pytest.importorskip("playwright.async_api")
    async with Harness(settings, ["ingest", "matcher", "review"]) as h:
        await h.publish("kopdes.offer.upserted.bri", builders.offer(regions=["61"]))
        for cooperative_id, village in (
            ("KDMP-6112012004", builders.KUALA_DUA),
            ("KDMP-6112012001", builders.SUNGAI_RAYA),
            ("KDMP-6112022001", "61.12.02.2001"),
            ("KDMP-6101012001", builders.SAMBAS_VILLAGE),
        ):
            await h.publish(
                COOPS,
                builders.profile(
                    cooperative_id=cooperative_id,
                    village_code=village,
                    name=f"Koperasi Desa Merah Putih {cooperative_id[-4:]}",
                ),
            )
        await h.settle()
        assert len(h.suggested) == 4
        add_coordinator(
            h.pipeline.runtime.engine,
            CoordinatorCreate(
                username="pmo.kalbar",
                full_name="PMO Kalimantan Barat",
                role=Role.PMO,
                scope=["61"],
                password=PASSWORD,
            ),
        )
        base = f"http://127.0.0.1:{settings.web_port}"

        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 390, "height": 844})
            await page.goto(f"{base}/")
            assert page.url.endswith("/login")
            await page.fill("input[name=username]", "pmo.kalbar")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/")
            assert "4 menunggu" in await page.inner_text("h1")

            # Filter: the Sungai Raya district of Kubu Raya.
            await page.click("details.filters summary")
            await page.select_option("select[name=regency]", "61.12")
            await page.click("form.grid button[type=submit]")
            await page.wait_for_url("**/?*regency=61.12*")
            await page.select_option("select[name=district]", "61.12.01")
            await page.click("form.grid button[type=submit]")
            await page.wait_for_url("**/?*district=61.12.01*")
            assert "2 menunggu" in await page.inner_text("h1")
            items = page.locator("ul.queue li.item a.body")
            assert await items.count() == 2
            await page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)

            # Approve the first.
            queue_url = page.url
            await items.nth(0).click()
            await page.wait_for_url("**/suggestions/*")
            approved_url = page.url
            await page.select_option(".approve-box select[name=reason_code]", "sesuai_kebutuhan")
            await page.click(".approve-box button[type=submit]")
            # The confirmation names who will be told, then approves.
            await page.wait_for_selector("main h1:has-text('Setujui saran ini?')")
            assert "Kemitraan disetujui" in await page.inner_text("main")
            await page.click("main form button.approve")
            await page.wait_for_selector(".flash")
            assert "Saran disetujui" in await page.inner_text(".flash")
            assert "Disetujui" in await page.inner_text("h1")
            await page.screenshot(path=str(tmp_path / "detail.png"), full_page=True)

            # Back to the filtered queue, reject the other one with a note.
            # (The confirmation answered a POST: the browser's back button would ask to
            # send it again, so the test opens the filtered queue directly.)
            await page.goto(queue_url)
            assert "1 menunggu" in await page.inner_text("h1")
            await page.locator("ul.queue li.item a.body").first.click()
            await page.wait_for_url("**/suggestions/*")
            rejected_url = page.url
            assert rejected_url != approved_url
            await page.select_option(".reject-box select[name=reason_code]", "sudah_ada_mitra")
            await page.fill(".reject-box textarea[name=note]", "sudah bermitra dengan CU setempat")
            await page.click(".reject-box button[type=submit]")
            await page.wait_for_selector(".flash")
            assert "Saran ditolak" in await page.inner_text(".flash")
            await browser.close()

        await h.settle()
        decided = h.of(DECIDED)
        assert sorted(e["decision"] for e in decided) == ["approved", "rejected"]
        by_decision = {e["decision"]: e for e in decided}
        # The detail pages carry the queue's filter in their query.
        assert approved_url.split("?")[0].endswith(by_decision["approved"]["suggestion_id"])
        assert rejected_url.split("?")[0].endswith(by_decision["rejected"]["suggestion_id"])
        assert by_decision["rejected"]["note"] == "sudah bermitra dengan CU setempat"
        assert {e["coordinator_id"] for e in decided} == {"pmo.kalbar"}
