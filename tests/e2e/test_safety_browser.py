"""Safe decisions and the Notifikasi page in a real browser, on a phone and a laptop:
confirm and approve, "Pilih semua", reopen with both notices seen on NATS and in the inbox,
the inbox without sideways scrolling, and axe-core clean (no serious or critical
violation) on every page. Playwright drives Debian's Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import subjects
from services.review.accounts import add_coordinator
from services.review.models import CoordinatorCreate
from services.storage.models import Role
from tests import builders
from tests.conftest import eventually
from tests.e2e.a11y import axe_source, check_page
from tests.e2e.test_review_browser import CHROMIUM, CHROMIUM_ARGS
from tests.harness import Harness

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
    ),
]

PASSWORD = "kata-sandi-admin-12"
COOPS = "kopdes.cooperative.upserted"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 800}}


def titles(h: Harness, subject: str) -> list[str]:
    return [p["title"].split(":")[0] for p in h.of(subject)]


@pytest.mark.parametrize("device", sorted(VIEWPORTS))
async def test_confirm_approve_reopen_and_read_the_notices(settings, device):
    playwright_api = pytest.importorskip("playwright.async_api")
    axe_source()  # skip (or fail on CI) before starting anything when axe-core is absent
    async with Harness(settings, ["ingest", "matcher", "review", "notify"]) as h:
        await h.publish("kopdes.offer.upserted.bri", builders.offer(regions=["61"]))
        villages = {
            "KDMP-6112012004": builders.KUALA_DUA,
            "KDMP-6112012001": builders.SUNGAI_RAYA,
            "KDMP-6101012001": builders.SAMBAS_VILLAGE,
        }
        for cooperative_id, village in villages.items():
            await h.publish(
                COOPS,
                builders.profile(
                    cooperative_id=cooperative_id,
                    village_code=village,
                    name=f"Koperasi Desa Merah Putih {cooperative_id[-4:]}",
                ),
            )
        await h.settle()
        assert len(h.suggested) == 3
        add_coordinator(
            h.pipeline.runtime.engine,
            CoordinatorCreate(
                username="admin",
                full_name="Admin Pusat",
                role=Role.ADMIN,
                scope=[],
                password=PASSWORD,
            ),
        )
        base = f"http://127.0.0.1:{settings.web_port}"

        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # bypass_csp lets the test inject axe-core; the pages' own policy is tested apart.
            context = await browser.new_context(viewport=VIEWPORTS[device], bypass_csp=True)
            page = await context.new_page()
            await page.goto(f"{base}/login")
            await check_page(page, "login")
            await page.fill("input[name=username]", "admin")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("main button[type=submit]")
            await page.wait_for_url(f"{base}/")
            await check_page(page, "queue")

            # Open the best suggestion: a plain explanation, the details behind "Rincian".
            await page.locator("ul.queue li.item a.body").first.click()
            await page.wait_for_url("**/suggestions/*")
            detail_url = page.url
            plain = await page.inner_text(".plain")
            assert plain.startswith("Koperasi") and "→" not in plain
            assert not await page.locator(".rincian .explain").is_visible()
            await page.click(".rincian summary")
            assert await page.locator(".rincian .explain").is_visible()
            await check_page(page, "detail")

            # Approve: the confirmation names both parties before anything is sent.
            await page.fill(".approve-box textarea[name=note]", "Siapkan NIB minggu ini.")
            await page.click(".approve-box button[type=submit]")
            await page.wait_for_selector("main h1:has-text('Setujui saran ini?')")
            confirmation = await page.inner_text("main")
            assert "Kemitraan disetujui" in confirmation and "Bank Rakyat Indonesia" in confirmation
            assert not h.of(subjects.MATCH_DECIDED), "nothing decided before the confirmation"
            await check_page(page, "confirm approval")
            await page.click("main form button.approve")
            await page.wait_for_selector(".flash")
            assert "Saran disetujui" in await page.inner_text(".flash")

            # Reopen: the confirmation says both will hear that it was cancelled.
            await page.click("main form[action$='/reopen'] button[type=submit]")
            await page.wait_for_selector("main h1:has-text('Buka kembali keputusan ini?')")
            assert "Kemitraan dibatalkan" in await page.inner_text("main")
            await check_page(page, "confirm reopen")
            await page.click("main form button.primary")
            await page.wait_for_selector(".flash")
            assert "dibuka kembali" in await page.inner_text(".flash")
            assert page.url == detail_url

            # Both notices on NATS, once each, for the cooperative and the partner.
            await h.settle()
            coop_id = next(
                e["cooperative_id"] for e in h.suggested if detail_url.endswith(e["suggestion_id"])
            )
            coop_subject = subjects.notify_cooperative(coop_id)
            await eventually(lambda: len(h.of(coop_subject)) == 2)
            assert titles(h, coop_subject) == ["Kemitraan disetujui", "Kemitraan dibatalkan"]
            assert titles(h, subjects.notify_partner("bri")) == [
                "Koperasi disetujui untuk penawaran Anda",
                "Kemitraan dibatalkan",
            ]

            # The Notifikasi page: find the cooperative by name, read both notices.
            await page.click("header nav a[href='/notifikasi']")
            await page.wait_for_url("**/notifikasi")
            name = f"Koperasi Desa Merah Putih {coop_id[-4:]}"
            await page.fill("input[name=q]", name.lower())
            await page.click("form[role=search] button[type=submit]")
            await page.wait_for_url("**/notifikasi?q=*")
            await page.click(f"table.recipients a:has-text('{name}')")
            await page.wait_for_selector("article.notice")
            inbox = await page.inner_text("main")
            assert "Kemitraan dibatalkan" in inbox and "Kemitraan disetujui" in inbox
            assert "Dibatalkan kemudian" in inbox
            assert "Kalimantan Barat" in inbox and "WIB" in inbox and "UTC" not in inbox
            assert "Pendamping Usaha" in inbox
            await check_page(page, "inbox")

            # Bulk: "Pilih semua" ticks the page, the confirmation lists who is told.
            await page.goto(f"{base}/")
            await page.check("#pick-all")
            boxes = page.locator("input[name=selected]")
            assert await boxes.count() == 3
            assert all([await boxes.nth(i).is_checked() for i in range(3)])
            bar = await page.locator(".bulk").bounding_box()
            await page.mouse.wheel(0, 2000)
            await page.wait_for_timeout(100)
            stuck = await page.locator(".bulk").bounding_box()
            assert bar is not None and stuck is not None and stuck["y"] <= max(bar["y"], 1)
            await page.click(".bulk button.approve")
            await page.wait_for_selector("main h1:has-text('Setujui 3 saran yang dipilih?')")
            await check_page(page, "confirm bulk")

            for path in ("/overview", "/admin/webhook"):
                await page.goto(f"{base}{path}")
                await check_page(page, path)
            await browser.close()
