"""Realistic synthetic cooperatives and partner offers for the demo, tests and benchmarks.

One Koperasi Desa/Kelurahan Merah Putih per village of the region table, with business units,
commodities and needs that fit the village's area (see ``DOMAIN.md``), written the way many
hands type them: abbreviations ("USP"), spelling variants ("apotik"), English loans ("cold
storage"), local words ("merica"), product forms ("TBS", "gabah", "bokar"), odd casing and the
occasional typo. Offers are modelled on the real partners (BRI, BNI, Mandiri, BSI, Bulog,
ID FOOD, Pupuk Indonesia, Pertamina Patra Niaga, Kimia Farma, Pos Indonesia, Agrinas Pangan
Nusantara) plus clearly fictional offtake companies, NGOs and local government offices.

Everything is deterministic for a seed: cooperatives draw from one random stream per regency
(seed and regency code), always run over the whole regency, so a cooperative does not change
with ``within`` or ``limit``. Every item is constructed through the contract models, so it is
validated.

The tables (how people write, what each area grows, needs, partners) are TOML files in
``data/``, read by ``tables``; ``writing`` varies how a term is written, ``places`` holds the
region helpers, ``cooperatives`` and ``offers`` (with ``offer_maker`` and ``partners``) make
the two kinds of item.
"""

from __future__ import annotations

from schemas.events import CooperativeProfile, PartnerOffer
from services.demo.synthetic.cooperatives import cooperatives
from services.demo.synthetic.defaults import KALBAR, default_updated_at
from services.demo.synthetic.offers import offers
from services.demo.synthetic.places import produce_of

__all__ = [
    "cooperatives",
    "default_updated_at",
    "kalbar_demo",
    "national",
    "offers",
    "produce_of",
]


def kalbar_demo(
    *, seed: int = 61, limit: int | None = None
) -> tuple[list[CooperativeProfile], list[PartnerOffer]]:
    """The Kalimantan Barat demo: a cooperative per village (2,145) and about 30 offers."""
    return cooperatives(KALBAR, seed=seed, limit=limit), offers(KALBAR, count=30, seed=seed)


def national(
    *, seed: int = 83, offer_count: int = 10_000
) -> tuple[list[CooperativeProfile], list[PartnerOffer]]:
    """All Indonesia: 83,762 cooperatives and ``offer_count`` offers."""
    return cooperatives(None, seed=seed), offers(None, count=offer_count, seed=seed)
