"""The offer maker's base: where an offer goes (regencies weighted by their villages, their
provinces and districts), until when it is valid, and its unique id."""

from __future__ import annotations

import bisect
import random
from datetime import date, datetime, timedelta
from typing import Any

from schemas.events import PartnerOffer
from schemas.regions import Region, region_table
from services.demo.synthetic.places import (
    Scope,
    area_slug,
    districts_by_regency,
    grows,
    is_city,
    province_slug,
    slugify,
)


class OfferMaker:
    """Builds offers one at a time, keeping (partner_id, offer_id) unique."""

    def __init__(self, scope: Scope, rng: random.Random, today: date, stamp: datetime) -> None:
        self.scope = scope
        self.rng = rng
        self.today = today
        self.stamp = stamp
        self.seen: set[tuple[str, str]] = set()
        self.offered: set[tuple[object, ...]] = set()
        self.distinct = True  # refuse a repeat of the same offer while there is room
        self.made: list[PartnerOffer] = []
        self.table = region_table()
        self.pools: dict[str | None, tuple[list[Region], list[int], dict[str, list[Region]]]] = {}

    # -- places ---------------------------------------------------------------------------------

    def _pool(self, fits: str | None) -> tuple[list[Region], list[int], dict[str, list[Region]]]:
        """Regencies that fit (``None``: all, ``"rural"``: not a city, else a commodity grown
        there), their village counts, and the same regencies by province; cached."""
        pool = self.pools.get(fits)
        if pool is None:
            pairs = [
                (r, w)
                for r, w in zip(self.scope.regencies, self.scope.weights, strict=True)
                if fits is None or (not is_city(r.code) if fits == "rural" else grows(r.code, fits))
            ] or list(zip(self.scope.regencies, self.scope.weights, strict=True))
            by_province: dict[str, list[Region]] = {}
            for r, _ in pairs:
                by_province.setdefault(r.code[:2], []).append(r)
            cum, total = [], 0
            for _, w in pairs:
                total += w
                cum.append(total)
            pool = self.pools[fits] = ([r for r, _ in pairs], cum, by_province)
        return pool

    def regency(self, fits: str | None = None) -> Region:
        regencies, cum, _ = self._pool(fits)
        return regencies[bisect.bisect_right(cum, self.rng.random() * cum[-1])]

    def regions_for(
        self, level_mix: tuple[float, float, float], fits: str | None = None
    ) -> tuple[list[str], str]:
        """Region codes and a slug; ``level_mix`` is the chance of province, several regencies,
        one district; otherwise a single regency."""
        rng = self.rng
        r = rng.random()
        province_ok = self.scope.within is None or "." not in self.scope.within
        anchor = self.regency(fits)
        if province_ok and r < level_mix[0]:
            province = self.table.get(anchor.code[:2])
            assert province is not None
            return [province.code], province_slug(province.code)
        if r < level_mix[0] + level_mix[1]:
            siblings = [reg for reg in self._pool(fits)[2][anchor.code[:2]] if reg != anchor]
            extra = rng.sample(siblings, min(len(siblings), rng.randint(1, 3)))
            chosen = sorted([anchor, *extra], key=lambda x: x.code)
            return [x.code for x in chosen], area_slug(anchor)
        if r < sum(level_mix):
            districts = districts_by_regency().get(anchor.code)
            if districts:
                chosen_district = rng.choice(districts)
                return [chosen_district.code], slugify(chosen_district.name)
        return [anchor.code], area_slug(anchor)

    def valid_until(self, chance: float = 0.5) -> date | None:
        if self.rng.random() >= chance:
            return None
        return self.today + timedelta(days=self.rng.randint(30, 400))

    # -- output ---------------------------------------------------------------------------------

    def add(self, partner_id: str, product: str, region_slug: str, **fields: Any) -> None:
        base = f"{partner_id}-{product}-{region_slug}"[:52].rstrip("-")
        same = (partner_id, product, str(fields.get("regions")), fields.get("title"))
        if self.distinct and same in self.offered:
            return  # the partner already offers this there: draw something else
        self.offered.add(same)
        offer_id = f"{base}-{self.today.year}"
        n = 2
        while (partner_id, offer_id) in self.seen:
            offer_id = f"{base}-{self.today.year}-{n}"
            n += 1
        self.seen.add((partner_id, offer_id))
        self.made.append(
            PartnerOffer(offer_id=offer_id, partner_id=partner_id, updated_at=self.stamp, **fields)
        )
