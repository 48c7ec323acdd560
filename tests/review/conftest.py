"""Review tests: the web app on a real database (SQLite file and PostgreSQL), seeded rows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from schemas import suggestion_id
from services.notify.web import include_notifications
from services.platform.settings import Settings
from services.review.accounts import add_coordinator, create_token
from services.review.models import CoordinatorCreate
from services.review.web import create_app
from services.storage.models import CooperativeRow, OfferRow, Role, SuggestionRow
from services.storage.types import utcnow

PASSWORD = "kata-sandi-uji-123"

# Villages: two in Sungai Raya district, one elsewhere in Kubu Raya, one in Sambas,
# one outside Kalimantan Barat.
SUNGAI_RAYA_A = "61.12.01.2004"
SUNGAI_RAYA_B = "61.12.01.2001"
KUALA_MANDOR = "61.12.02.2001"
SAMBAS = "61.01.01.2001"
KOTAWARINGIN = "62.01.01.1011"
VILLAGES = [SUNGAI_RAYA_A, SUNGAI_RAYA_B, KUALA_MANDOR, SAMBAS, KOTAWARINGIN]

OFFERS = {
    ("bri", "kur-kalbar"): ("Bank Rakyat Indonesia", "bank", "financing", None),
    ("bulog", "serap-gabah"): ("Perum Bulog", "bumn", "offtake", 2),
}

# Why each seeded pair is suggested: BRI's by its best per province (Kuala Mandor's by the
# cooperative's best offers too), Bulog's for the cooperatives' sake.
BASIS = {
    **{(v, "bri"): ["offer"] for v in VILLAGES},
    (KUALA_MANDOR, "bri"): ["offer", "cooperative"],
    **{(v, "bulog"): ["cooperative"] for v in VILLAGES},
}


def coop_id(village: str) -> str:
    return "KDMP-" + village.replace(".", "")


@dataclass
class Seeded:
    engine: Engine
    # suggestion ids by (village, partner)
    ids: dict[tuple[str, str], str]

    def sid(self, village: str, partner: str = "bri") -> str:
        return self.ids[(village, partner)]

    def row(self, sid: str) -> SuggestionRow:
        with Session(self.engine) as session:
            row = session.get(SuggestionRow, sid)
            assert row is not None
            return row


def seed(engine: Engine) -> Seeded:
    now = utcnow()
    ids: dict[tuple[str, str], str] = {}
    with Session(engine) as session:
        for (partner, offer), (name, ptype, otype, capacity) in OFFERS.items():
            session.add(
                OfferRow(
                    partner_id=partner,
                    offer_id=offer,
                    partner_name=name,
                    partner_type=ptype,
                    offer_type=otype,
                    title=f"Tawaran {name}",
                    business_units=["kios sembako"],
                    commodities=["padi"],
                    regions=["61", "62"],
                    capacity=capacity,
                    updated_at=now,
                )
            )
        for i, village in enumerate(VILLAGES):
            session.add(
                CooperativeRow(
                    cooperative_id=coop_id(village),
                    name=f"Koperasi Desa Merah Putih {village}",
                    village_code=village,
                    regency_code=".".join(village.split(".")[:2]),
                    member_count=100 + i,
                    business_units=["kios sembako"],
                    commodities=["padi"],
                    needs="modal kerja",
                    financing_need_idr=100_000_000,
                    updated_at=now,
                )
            )
            for (partner, offer), _ in OFFERS.items():
                sid = suggestion_id(partner, offer, coop_id(village))
                ids[(village, partner)] = sid
                session.add(
                    SuggestionRow(
                        suggestion_id=sid,
                        partner_id=partner,
                        offer_id=offer,
                        cooperative_id=coop_id(village),
                        regency_code=".".join(village.split(".")[:2]),
                        province_code=village[:2],
                        village_code=village,
                        score=90.0 - 5 * i,
                        rank=i + 1,
                        basis=BASIS[(village, partner)],
                        explanation=[
                            {
                                "name": "business_unit",
                                "weight": 0.4,
                                "score": 90.0,
                                "detail": "'kios sembako' ~ 'kios sembako'",
                            },
                        ],
                        summary="",
                        created_at=now,
                        updated_at=now,
                    )
                )
        session.commit()
    return Seeded(engine, ids)


ACCOUNTS = {
    "admin": (Role.ADMIN, []),
    "pmo.kalbar": (Role.PMO, ["61"]),
    "pmo.kuburaya": (Role.PMO, ["61.12"]),
    "pu.sungairaya": (Role.BUSINESS_ASSISTANT, ["61.12.01"]),
    "pu.desa": (Role.BUSINESS_ASSISTANT, [SUNGAI_RAYA_B]),
    "pmo.kalteng": (Role.PMO, ["62"]),
}


@pytest.fixture
def review_settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data")


@pytest.fixture
def seeded(engine: Engine) -> Seeded:
    for username, (role, scope) in ACCOUNTS.items():
        add_coordinator(
            engine,
            CoordinatorCreate(username=username, role=role, scope=scope, password=PASSWORD),
        )
    return seed(engine)


@pytest.fixture
def app(review_settings: Settings, engine: Engine, seeded: Seeded) -> Any:
    # As the pipeline serves it: with notify's pages.
    runtime = SimpleNamespace(settings=review_settings, engine=engine, relay=None)
    return create_app(runtime, sections=[include_notifications])


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def tokens(engine: Engine, seeded: Seeded) -> dict[str, str]:
    return {name: create_token(engine, name) for name in ACCOUNTS}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "every form carries a CSRF token"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def logged_in(app: Any, username: str) -> TestClient:
    client = TestClient(app)
    response = login(client, username)
    assert response.status_code == 303, response.text
    return client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
