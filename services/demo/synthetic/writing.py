"""How people write: one of a term's written forms by weight, odd casing, typos, phone
shorthand and amounts of rupiah."""

from __future__ import annotations

import bisect
import random
import re

from services.demo.synthetic.tables import SHORTHAND, Variants

_SHORTHAND_RE = re.compile(r"\b(" + "|".join(k for k in SHORTHAND if k != "dan") + r"|dan)\b")
_TABLES: dict[int, tuple[list[str], list[float]]] = {}


def _table(variants: Variants) -> tuple[list[str], list[float]]:
    """Values and cumulative weights, computed once per variant list."""
    found = _TABLES.get(id(variants))
    if found is None:
        values = [v for v, _ in variants]
        cum: list[float] = []
        total = 0.0
        for _, weight in variants:
            total += weight
            cum.append(total)
        found = _TABLES[id(variants)] = (values, [c / total for c in cum])
    return found


def typo(rng: random.Random, text: str) -> str:
    """One plausible slip of the thumb in a word of five letters or more."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    word = words[i]
    j = rng.randrange(1, len(word) - 2)
    kind = rng.random()
    if kind < 0.4:  # swap two neighbours
        word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    elif kind < 0.75:  # drop a letter
        word = word[:j] + word[j + 1 :]
    else:  # double a letter
        word = word[:j] + word[j] + word[j:]
    words[i] = word
    return " ".join(words)


def _noisy(rng: random.Random, text: str, typo_rate: float = 0.02) -> str:
    """Odd casing or a typo, now and then."""
    r = rng.random()
    if r >= 0.09 + typo_rate:
        return text
    if r < 0.03:
        return text.upper()
    if r < 0.07:
        return text.title()
    if r < 0.09:
        return text.capitalize()
    return typo(rng, text)


def term(rng: random.Random, variants: Variants, *, urban: bool = False) -> str:
    """One way of writing a term, with the occasional odd casing or typo."""
    values, cum = _TABLES.get(id(variants)) or _table(variants)
    written = values[bisect.bisect_right(cum, rng.random())]
    if "{" in written:
        written = written.replace("{desa}", "kelurahan" if urban else "desa")
        written = written.replace("{Desa}", "Kelurahan" if urban else "Desa")
    return _noisy(rng, written)


def rupiah_text(rng: random.Random, amount: int) -> str:
    """An amount as people write it: Rp500 juta, 500jt, Rp 1,2 M, Rp750.000.000."""
    millions = amount / 1_000_000
    style = rng.random()
    if millions >= 1000 and style < 0.6:
        billions = f"{millions / 1000:.1f}".rstrip("0").rstrip(".").replace(".", ",")
        return rng.choice((f"Rp{billions} miliar", f"Rp {billions} M", f"{billions} M"))
    if style < 0.2:
        return "Rp" + f"{amount:,}".replace(",", ".")
    shown = f"{millions:g}".replace(".", ",")
    return rng.choice((f"Rp{shown} juta", f"Rp {shown} jt", f"{shown}jt", f"{shown} juta"))


def shorthand(text: str) -> str:
    """The words a phone typist shortens, shortened."""
    return _SHORTHAND_RE.sub(lambda m: SHORTHAND[m.group(1)], text)
