"""Partner offers: the real partners first, then a realistic mix of offer types."""

from __future__ import annotations

import random
from datetime import date, datetime

from schemas.events import PartnerOffer
from services.demo.synthetic.defaults import KALBAR, default_updated_at
from services.demo.synthetic.partners import Partners
from services.demo.synthetic.places import grows, scope_of

# The partners every offer set starts with, so the real ones of DOMAIN.md always appear.
_CORE: tuple[tuple[str, tuple[object, ...]], ...] = (
    ("bank", ("bri",)),
    ("bank", ("bni",)),
    ("bank", ("mandiri",)),
    ("bank", ("bsi",)),
    ("bulog", ()),
    ("idfood", ()),
    ("pupuk", ()),
    ("lpg", ()),
    ("pharmacy", ()),
    ("pos", ()),
    ("agrinas", ()),
    ("offtake", ("sawit",)),
    ("offtake", ("karet",)),
    ("training", (True,)),
    ("offtake", ("lada",)),
    ("offtake", ("kopi liberika",)),
    ("offtake", ("ikan",)),
    ("training", (False,)),
)
# Afterwards: kind -> weight (financing ~35 %, supply ~22 %, offtake ~22 %, rest).
_MIX = {
    "bank": 35,
    "bulog": 6,
    "idfood": 4,
    "pupuk": 5,
    "lpg": 5,
    "pharmacy": 3,
    "pos": 4,
    "agrinas": 6,
    "offtake": 22,
    "training": 10,
}


def offers(
    within: str | None = KALBAR,
    *,
    count: int = 30,
    seed: int = 61,
    today: date | None = None,
    updated_at: datetime | None = None,
) -> list[PartnerOffer]:
    """``count`` partner offers for cooperatives within ``within`` (``None``: all Indonesia).

    The first ones are the real partners of DOMAIN.md (four state banks, Bulog, ID FOOD,
    Pupuk Indonesia, Pertamina Patra Niaga, Kimia Farma, Pos Indonesia, Agrinas) and offtakers
    of the main produce; the rest follow a realistic mix of offer types.
    """
    scope = scope_of(within)
    if not scope.regencies:
        raise ValueError(f"no villages within {within!r}")
    rng = random.Random(f"offers:{seed}:{within}")
    maker = Partners(scope, rng, today or date.today(), updated_at or default_updated_at(seed))
    kinds, weights = list(_MIX), list(_MIX.values())
    step = 0
    while len(maker.made) < count:
        if step < len(_CORE):
            name, args = _CORE[step]
            if name == "offtake" and not any(grows(r.code, str(args[0])) for r in scope.regencies):
                step += 1
                continue
        else:
            name, args = rng.choices(kinds, weights=weights)[0], ()
        getattr(maker, name)(*args)
        step += 1
        if step > 20 * count + 100:  # a small area ran out of distinct offers: allow repeats
            maker.distinct = False
    return maker.made[:count]
