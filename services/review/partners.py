"""Partners by name: the names of partner ids, and the partner ids a typed name means."""

from __future__ import annotations

import threading
from collections import defaultdict

from cachetools import TTLCache
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from services.review.search import normalize
from services.storage.models import OfferRow

# Filter choices are the same for everyone of a scope and change slowly, and so do the
# partners and offers they name.
CHOICES_SECONDS = 60.0


def partner_names(session: Session, partner_ids: list[str]) -> dict[str, str]:
    if not partner_ids:
        return {}
    query = select(OfferRow.partner_id, func.max(OfferRow.partner_name))
    if len(partner_ids) <= 200:  # beyond that, one pass over the offers beats the IN list
        query = query.where(col(OfferRow.partner_id).in_(partner_ids))
    return dict(session.exec(query.group_by(col(OfferRow.partner_id))).all())


_partners: TTLCache[int, dict[str, list[str]]] = TTLCache(maxsize=64, ttl=CHOICES_SECONDS)
_partners_lock = threading.Lock()


def partner_ids(engine: Engine, typed: str) -> list[str]:
    """The partners a typed value means: its id, or else every partner whose name has it."""
    with _partners_lock:
        by_name = _partners.get(id(engine))
    if by_name is None:
        by_name = defaultdict(list)
        with Session(engine) as session:
            for partner_id, name in session.exec(
                select(OfferRow.partner_id, OfferRow.partner_name).distinct()
            ):
                by_name[normalize(name)].append(partner_id)
        with _partners_lock:
            _partners[id(engine)] = by_name
    if any(typed in ids for ids in by_name.values()):
        return [typed]
    wanted = normalize(typed)
    return sorted({p for name, ids in by_name.items() if wanted and wanted in name for p in ids})
