"""Screenshots of the review dashboard with demo-like data, for docs/screenshots/.

    uv run python scripts/review_screenshots.py [--limit 400] [--out docs/screenshots]

Runs the pipeline (embedded NATS, a fresh SQLite in a temporary folder) on the Kalimantan
Barat synthetic data, makes a few decisions as the demo PMO (and reopens one approval),
and lets Debian's Chromium (through Playwright) photograph the queue, a detail, the
confirmation of an approval, the overview and a cooperative's Notifikasi inbox at phone
and laptop widths.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import nats
from sqlmodel import Session, col, select

from services.demo.synthetic import kalbar_demo
from services.pipeline.app import Pipeline
from services.platform.embedded_nats import EmbeddedNats, free_port
from services.platform.settings import Settings
from services.review import decisions
from services.review.accounts import ensure_demo_coordinators
from services.storage.models import CoordinatorRow, NotificationRow, SuggestionRow

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SIZES = {"phone": (390, 844), "laptop": (1280, 800)}


async def _idle(pipeline: Pipeline) -> None:
    """Wait until the matcher is done: the count of suggestions holds still for 3 seconds."""
    last, still = -1, 0
    for _ in range(600):
        await asyncio.sleep(0.5)
        with Session(pipeline.runtime.engine) as session:
            count = len(session.exec(select(SuggestionRow.suggestion_id)).all())
        still = still + 1 if count == last and count > 0 else 0
        if still >= 6:
            return
        last = count


def _decide_some(pipeline: Pipeline) -> tuple[str, str]:
    """Approve and reject a few suggestions as the PMO, and reopen one approval; return a
    pending suggestion for the detail and the cooperative whose approval was reopened."""
    engine = pipeline.runtime.engine
    with Session(engine) as session:
        pmo = session.exec(
            select(CoordinatorRow).where(CoordinatorRow.username == "pmo.kalbar")
        ).one()
        rows = session.exec(
            select(SuggestionRow)
            .where(SuggestionRow.status == "pending")
            .order_by(col(SuggestionRow.score).desc())
        ).all()
    done = 0
    approved: list[SuggestionRow] = []
    for i, row in enumerate(rows[5:]):
        if done >= 40:
            break
        decision = decisions.Decision.APPROVED if i % 3 else decisions.Decision.REJECTED
        reason = "sesuai_kebutuhan" if decision == "approved" else "sudah_ada_mitra"
        try:
            decisions.decide(engine, pmo, row.suggestion_id, decision, reason, "", row.version)
            done += 1
        except decisions.DecisionError:
            continue
        if decision == decisions.Decision.APPROVED:
            approved.append(row)
    first = approved[0]
    decisions.reopen(
        engine, pmo, first.suggestion_id, first.version + 1, "Koperasi belum berbadan hukum."
    )
    return rows[0].suggestion_id, first.cooperative_id


async def _notified(pipeline: Pipeline, cooperative_id: str) -> None:
    """Wait until notify has told the cooperative of the approval and its cancellation."""
    for _ in range(120):
        with Session(pipeline.runtime.engine) as session:
            kinds = session.exec(
                select(NotificationRow.kind).where(NotificationRow.recipient_id == cooperative_id)
            ).all()
        if {"approved", "cancelled"} <= set(kinds):
            return
        await asyncio.sleep(0.5)
    raise RuntimeError("notify did not record the cancellation in 60 s")


async def main(limit: int, out: Path) -> None:
    from playwright.async_api import async_playwright

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        async with EmbeddedNats(Path(tmp) / "nats") as server:
            settings = Settings(
                nats_url=server.url, data_dir=Path(tmp) / "data", web_port=free_port()
            )
            pipeline = Pipeline(settings, ["ingest", "matcher", "review", "notify"])
            await pipeline.start()
            try:
                profiles, offers = kalbar_demo(limit=limit)
                nc = await nats.connect(server.url)
                js = nc.jetstream()
                for offer in offers:
                    await js.publish(
                        f"kopdes.offer.upserted.{offer.partner_id}",
                        offer.model_dump_json().encode(),
                    )
                for profile in profiles:
                    await js.publish(
                        "kopdes.cooperative.upserted", profile.model_dump_json().encode()
                    )
                await nc.close()
                await _idle(pipeline)
                logins = ensure_demo_coordinators(pipeline.runtime.engine)
                password = next(p for u, p, *_ in logins if u == "pmo.kalbar")
                detail_id, reopened_coop = _decide_some(pipeline)
                await _notified(pipeline, reopened_coop)
                base = f"http://127.0.0.1:{settings.web_port}"
                async with async_playwright() as p:
                    browser = await p.chromium.launch(
                        executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                    )
                    for size, (width, height) in SIZES.items():
                        page = await browser.new_page(viewport={"width": width, "height": height})
                        await page.goto(f"{base}/login")
                        await page.fill("input[name=username]", "pmo.kalbar")
                        await page.fill("input[name=password]", password)
                        await page.click("button[type=submit]")
                        await page.wait_for_url(f"{base}/")
                        await page.screenshot(path=str(out / f"queue-{size}.png"))
                        await page.goto(f"{base}/suggestions/{detail_id}")
                        await page.screenshot(
                            path=str(out / f"detail-{size}.png"), full_page=size == "laptop"
                        )
                        await page.click(".approve-box button[type=submit]")
                        await page.wait_for_selector("main h1")
                        await page.screenshot(path=str(out / f"confirm-{size}.png"))
                        await page.goto(f"{base}/overview")
                        await page.screenshot(path=str(out / f"overview-{size}.png"))
                        await page.goto(
                            f"{base}/notifikasi?recipient_type=cooperative"
                            f"&recipient_id={reopened_coop}"
                        )
                        await page.screenshot(
                            path=str(out / f"inbox-{size}.png"), full_page=size == "laptop"
                        )
                        await page.close()
                    await browser.close()
            finally:
                await pipeline.stop()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    asyncio.run(main(args.limit, args.out))
