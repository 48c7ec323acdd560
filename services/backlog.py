"""What the services still have to do once their consumers are drained.

Messages left in the outbox, and offers the matcher held back to recompute once it has
caught up (``Reconciler.hold``). Zero: the pipeline has settled, every suggestion is out.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from services.storage.models import OutboxRow, StaleOfferRow


def work_left(session: Session) -> int:
    unsent = session.exec(
        select(func.count()).select_from(OutboxRow).where(col(OutboxRow.published_at).is_(None))
    ).one()
    stale = session.exec(select(func.count()).select_from(StaleOfferRow)).one()
    return unsent + stale
