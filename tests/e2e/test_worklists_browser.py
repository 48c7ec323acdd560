"""A coordinator works through a filtered queue in a real browser, on a phone and a laptop:
search, filter, the filter kept on "‹ Antrean" and the browser's back button, approve and
"Berikutnya" to the next of the same queue, a cooperative's own queue with why each
suggestion is there (axe-core clean), and both exports downloaded and read.

Playwright drives Debian's Chromium, as ``test_review_browser.py`` does.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from services.review.accounts import add_coordinator
from services.review.models import CoordinatorCreate
from services.storage.models import Role
from tests.e2e.test_review_browser import CHROMIUM, CHROMIUM_ARGS, COOPS, DECIDED, PASSWORD
from tests.support import builders
from tests.support.a11y import check_page
from tests.support.harness import Harness

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)"
    ),
]

COOPERATIVES = {
    "KDMP-6112012004": (builders.KUALA_DUA, "Koperasi Desa Merah Putih Kuala Dua"),
    "KDMP-6112012001": (builders.SUNGAI_RAYA, "Koperasi Desa Merah Putih Sungai Raya"),
    "KDMP-6112022001": ("61.12.02.2001", "Koperasi Desa Merah Putih Kuala Mandor B"),
    "KDMP-6101012001": (builders.SAMBAS_VILLAGE, "Koperasi Desa Merah Putih Dalam Kaum"),
}
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 768}}


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


async def no_horizontal_scroll(page) -> bool:
    return await page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


@pytest.mark.parametrize("viewport", VIEWPORTS)
async def test_search_filter_berikutnya_and_export(settings, tmp_path, viewport):
    playwright_api = pytest.importorskip("playwright.async_api")
    async with Harness(settings, ["ingest", "matcher", "review"]) as h:
        await h.publish("kopdes.offer.upserted.bri", builders.offer(regions=["61"]))
        for cooperative_id, (village, name) in COOPERATIVES.items():
            await h.publish(
                COOPS,
                builders.profile(cooperative_id=cooperative_id, village_code=village, name=name),
            )
        await h.settle()
        assert len(h.suggested) == 4
        add_coordinator(
            h.pipeline.runtime.engine,
            CoordinatorCreate(
                username="pmo.kalbar", role=Role.PMO, scope=["61"], password=PASSWORD
            ),
        )
        base = f"http://127.0.0.1:{settings.web_port}"

        async with playwright_api.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # bypass_csp lets the test inject axe-core; the pages' own policy is tested apart.
            context = await browser.new_context(
                viewport=VIEWPORTS[viewport], accept_downloads=True, bypass_csp=True
            )
            page = await context.new_page()
            await page.goto(f"{base}/login")
            await page.fill("input[name=username]", "pmo.kalbar")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{base}/")
            assert "4 menunggu" in await page.inner_text("h1")
            assert await no_horizontal_scroll(page)

            # Search by village name, with a typo and without capitals.
            await page.fill("input[name=q]", "kuala mandr")
            await page.click("form.search button[type=submit]")
            await page.wait_for_url("**/?q=kuala+mandr")
            assert "1 menunggu" in await page.inner_text("h1")
            assert "Kuala Mandor B" in await page.inner_text("ul.queue")

            # Filter: the regency, then one of its districts (named with the regency).
            await page.goto(f"{base}/")
            await page.click("details.filters summary")
            await page.select_option("select[name=regency]", "61.12")
            await page.click("form.grid button[type=submit]")
            await page.wait_for_url("**/?*regency=61.12*")
            assert "3 menunggu" in await page.inner_text("h1")
            district = page.locator("select[name=district] option[value='61.12.01']")
            assert await district.inner_text() == "Sungai Raya, Kubu Raya"
            await page.select_option("select[name=district]", "61.12.01")
            await page.click("form.grid button[type=submit]")
            await page.wait_for_url("**/?*district=61.12.01*")
            queue_url = page.url
            assert "2 menunggu" in await page.inner_text("h1")
            filtered = {"regency": ["61.12"], "district": ["61.12.01"]}
            assert query_of(queue_url) == filtered

            # The detail page's "‹ Antrean" and the browser's back both keep the filter.
            items = page.locator("ul.queue li.item a.body")
            first_name = await items.nth(0).locator("strong").inner_text()
            await items.nth(0).click()
            await page.wait_for_url("**/suggestions/*")
            first_url = page.url
            assert query_of(first_url) == filtered
            await page.click("text=‹ Antrean")
            await page.wait_for_url(queue_url)
            assert "2 menunggu" in await page.inner_text("h1")
            await page.locator("ul.queue li.item a.body").nth(0).click()
            await page.wait_for_url(first_url)
            await page.go_back()
            await page.wait_for_url(queue_url)
            assert "2 menunggu" in await page.inner_text("h1")

            # Approve the first, then "Berikutnya" opens the other one of this queue.
            await page.goto(first_url)
            assert first_name in await page.inner_text("h1")
            await page.select_option(".approve-box select[name=reason_code]", "sesuai_kebutuhan")
            await page.click(".approve-box button[type=submit]")
            # The confirmation step says who will be told; its form keeps the filter too.
            await page.wait_for_selector("section.confirm")
            await page.click("button:text-is('Ya, setujui')")
            await page.wait_for_selector(".flash")
            assert "Disetujui" in await page.inner_text("h1")
            await page.click("text=Berikutnya ›")
            await page.wait_for_url(lambda url: "/suggestions/" in url and url != first_url)
            second_url = page.url
            assert query_of(second_url) == filtered
            heading = await page.inner_text("h1")
            assert "Menunggu" in heading and first_name not in heading
            assert ("Sungai Raya" in heading) != ("Kuala Dua" in heading)
            assert await no_horizontal_scroll(page)

            # The business assistant's view: all of this cooperative's suggestions, and why
            # each is there (one offer in one province: both parts of the rule hold).
            await page.click("text=Semua saran untuk koperasi ini")
            await page.wait_for_url("**/?cooperative=*")
            assert "1 menunggu" in await page.inner_text("h1")
            assert await page.inner_text("ul.narrowed strong") in heading
            tags = await page.locator("ul.queue .tag").all_inner_texts()
            assert tags == ["Masuk 20 besar provinsi", "Masuk 3 tawaran teratas koperasi"]
            await check_page(page, f"cooperative queue ({viewport})")
            await page.locator("ul.queue li.item a.body").nth(0).click()
            await page.wait_for_url(lambda url: url.split("?")[0] == second_url.split("?")[0])
            assert "cooperative" in query_of(page.url)
            basis = await page.locator("ul.basis li").all_inner_texts()
            assert basis == [
                "Termasuk 20 koperasi terbaik untuk tawaran ini di Provinsi Kalimantan Barat.",
                "Termasuk 3 tawaran terbaik untuk koperasi ini.",
            ]
            await check_page(page, f"detail from the cooperative queue ({viewport})")

            # Export the filtered queue: one row left, with names and region names.
            await page.goto(queue_url)
            assert "1 menunggu" in await page.inner_text("h1")
            async with page.expect_download() as download_info:
                await page.click("p.downloads a:text-is('CSV')")
            download = await download_info.value
            assert download.suggested_filename == "antrean-saran.csv"
            text = Path(await download.path()).read_text(encoding="utf-8-sig")
            rows = list(csv.DictReader(io.StringIO(text)))
            assert len(rows) == 1 and rows[0]["Kecamatan"] == "Sungai Raya"
            assert rows[0]["Kabupaten/kota"] == "Kabupaten Kubu Raya"
            assert rows[0]["Koperasi"] in heading
            async with page.expect_download() as download_info:
                await page.click("p.downloads a:text-is('Excel')")
            download = await download_info.value
            assert download.suggested_filename == "antrean-saran.xlsx"
            sheet = load_workbook(io.BytesIO(Path(await download.path()).read_bytes())).active
            assert isinstance(sheet, Worksheet)
            values = list(sheet.values)
            assert values[0][0] == "ID saran" and len(values) == 2
            assert values[1][0] == rows[0]["ID saran"]
            assert second_url.split("?")[0].endswith(values[1][0])
            await browser.close()

        await h.settle()
        (approved,) = h.of(DECIDED)
        assert first_url.split("?")[0].endswith(approved["suggestion_id"])
