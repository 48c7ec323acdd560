"""The partners' offers, one method per kind: the real partners of DOMAIN.md (the state banks,
Bulog, ID FOOD, Pupuk Indonesia, Pertamina Patra Niaga, Kimia Farma, Pos Indonesia, Agrinas),
fictional offtakers of the local produce, and trainings by NGOs and the provinces' offices."""

from __future__ import annotations

from schemas.events import OfferType, PartnerType
from services.demo.synthetic.offer_maker import OfferMaker
from services.demo.synthetic.places import produce_of, province_slug, slugify
from services.demo.synthetic.tables import (
    BANK_TERMS,
    BANKS,
    COMMODITY_TRAININGS,
    COMPANY_SUFFIXES,
    ISLAND_WORDS,
    NGOS,
    OFFTAKE,
    TRAININGS,
)


class Partners(OfferMaker):
    """Makes one offer of a kind of partner per call."""

    def bank(self, partner_id: str | None = None) -> None:
        rng = self.rng
        partner_id = partner_id or rng.choice(list(BANKS))
        partner_name, short = BANKS[partner_id]
        regions, slug = self.regions_for((0.1, 0.25, 0.0))
        where = self.table.describe(regions[0]) if len(regions) == 1 else "beberapa kabupaten"
        syariah = partner_id == "bsi"
        kind = rng.random()
        units: list[str] = []
        if kind < 0.55:
            product = "pembiayaan-kdmp"
            title = (
                f"{'Pembiayaan syariah' if syariah else 'Kredit'} Kopdes Merah Putih "
                f"{short} wilayah {where.split(',')[0]}"
            )
            low, high = 50_000_000, 3_000_000_000
            description = (
                f"{short} menyalurkan pembiayaan untuk Koperasi Desa/Kelurahan Merah "
                f"Putih di {where}: plafon hingga Rp3 miliar per koperasi (modal kerja "
                f"maksimal Rp500 juta), {BANK_TERMS}."
            )
            if syariah:
                description = description.replace(
                    "bunga 6% per tahun", "margin setara 6% per tahun"
                )
        elif kind < 0.8:
            product = "modal-kerja"
            title = f"Modal kerja operasional gerai & unit usaha koperasi ({short})"
            low, high = rng.choice((10_000_000, 25_000_000, 50_000_000)), 500_000_000
            description = (
                f"Pinjaman modal kerja hingga Rp500 juta untuk operasional gerai "
                f"sembako, apotek desa dan unit usaha lain di {where}; {BANK_TERMS}."
            )
            units = rng.sample(
                [
                    "gerai sembako",
                    "kios sembako",
                    "apotek desa",
                    "apotik",
                    "klinik desa",
                    "pangkalan LPG",
                    "kios pupuk",
                ],
                rng.randint(2, 4),
            )
        else:
            product = "kur" if not syariah else "kur-syariah"
            title = f"KUR {'Syariah ' if syariah else ''}untuk anggota lewat unit simpan pinjam"
            low, high = 10_000_000, rng.choice((300_000_000, 500_000_000))
            description = (
                f"{short} menyalurkan KUR untuk usaha anggota melalui USP koperasi di "
                f"{where}. Koperasi wajib punya unit simpan pinjam yang aktif."
            )
            units = [rng.choice(("USP", "unit simpan pinjam", "simpan pinjam"))]
        if kind < 0.55 and rng.random() < 0.4:
            units = rng.sample(
                [
                    "gerai sembako",
                    "USP",
                    "apotek desa",
                    "klinik desa",
                    "gudang",
                    "cold storage",
                    "logistik",
                ],
                rng.randint(2, 5),
            )
        self.add(
            partner_id,
            product,
            slug,
            partner_name=partner_name,
            partner_type=PartnerType.BANK,
            offer_type=OfferType.FINANCING,
            title=title,
            description=description,
            business_units=units,
            regions=regions,
            min_members=rng.choice((None, None, 20, 25, 50, 100)),
            min_amount_idr=low,
            max_amount_idr=high,
            capacity=rng.choice((None, None, 25, 40, 60, 100)),
            valid_until=self.valid_until(0.6),
        )

    def bulog(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.5, 0.2, 0.0))
        spread = "provinsi" if len(regions[0]) == 2 else "kabupaten"
        self.add(
            "bulog",
            rng.choice(("beras-sphp", "sembako")),
            slug,
            partner_name="Perum Bulog",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.SUPPLY,
            title=rng.choice(
                (
                    "Pasokan beras SPHP dan minyak goreng untuk gerai sembako",
                    "Kemitraan gerai sembako dengan Perum Bulog",
                )
            ),
            description=(
                f"Perum Bulog memasok beras SPHP, gula pasir dan minyak goreng ke "
                f"gerai/kios sembako koperasi di {self.table.describe(regions[0])} dengan "
                f"harga sesuai HET. Pengiriman dari gudang Bulog {spread}."
            ),
            business_units=["gerai sembako", "kios sembako"],
            commodities=["beras", "gula pasir", "minyak goreng"],
            regions=regions,
            capacity=rng.choice((None, 50, 100, 200)),
            valid_until=self.valid_until(0.5),
        )

    def idfood(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.6, 0.2, 0.0))
        product, title, goods = rng.choice(
            (
                (
                    "sembako",
                    "Pasokan gula, minyak goreng dan tepung terigu untuk kios sembako",
                    ["gula", "minyak goreng", "tepung terigu", "beras"],
                ),
                (
                    "gula-minyak",
                    "Kemitraan pasokan gula pasir dan minyak goreng kemasan",
                    ["gula pasir", "minyak goreng"],
                ),
                (
                    "beras-premium",
                    "Pasokan beras premium dan medium untuk gerai koperasi",
                    ["beras"],
                ),
            )
        )
        self.add(
            "id-food",
            product,
            slug,
            partner_name="ID FOOD (PT Rajawali Nusantara Indonesia)",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.SUPPLY,
            title=title,
            description=(
                f"ID FOOD menjadi pemasok tetap {', '.join(goods)} untuk gerai sembako Kopdes "
                f"Merah Putih di {self.table.describe(regions[0])}, pembayaran tempo 14 hari."
            ),
            business_units=["gerai sembako", "toko sembako"],
            commodities=goods,
            regions=regions,
            min_members=rng.choice((None, 20)),
            valid_until=self.valid_until(0.5),
        )

    def pupuk(self) -> None:
        rng = self.rng
        # Anywhere, cities included: a function meant as "not a city" was passed here as the
        # pool's key and matched no regency, so the pool was all of them; the data sets are kept.
        regions, slug = self.regions_for((0.15, 0.3, 0.1))
        self.add(
            "pupuk-indonesia",
            "kios-pupuk",
            slug,
            partner_name="PT Pupuk Indonesia (Persero)",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.SUPPLY,
            title="Penunjukan kios pupuk resmi (pupuk bersubsidi dan nonsubsidi)",
            description=(
                "Koperasi dapat menjadi pengecer resmi pupuk bersubsidi (Urea, NPK "
                "Phonska) dan nonsubsidi. Syarat: gudang kering minimal 20 m², NIB, "
                "terdaftar di e-RDKK."
            ),
            business_units=["kios pupuk", "pengecer pupuk", "KPL"],
            commodities=["pupuk urea", "NPK"],
            regions=regions,
            capacity=rng.choice((None, 10, 20, 30)),
            valid_until=self.valid_until(0.4),
        )

    def lpg(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.2, 0.3, 0.15))
        self.add(
            "pertamina-patra-niaga",
            "pangkalan-lpg",
            slug,
            partner_name="PT Pertamina Patra Niaga",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.SUPPLY,
            title="Pendaftaran pangkalan LPG 3 kg untuk koperasi desa",
            description=(
                "Pertamina Patra Niaga membuka pendaftaran pangkalan LPG 3 kg bersubsidi "
                "bagi Kopdes Merah Putih. Penjualan sesuai HET daerah, wajib pencatatan "
                "pembeli dengan NIK."
            ),
            business_units=["pangkalan LPG 3 kg", "pangkalan gas"],
            commodities=["LPG 3 kg"],
            regions=regions,
            capacity=rng.choice((15, 30, 50, None)),
            valid_until=self.valid_until(0.6),
        )

    def pharmacy(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.5, 0.2, 0.0))
        self.add(
            "kimia-farma",
            "obat-apotek-desa",
            slug,
            partner_name="PT Kimia Farma Tbk",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.SUPPLY,
            title="Pasokan obat dan BMHP untuk apotek dan klinik desa",
            description=(
                "Kimia Farma bersama Pos Indonesia memasok obat generik, obat bebas dan "
                "bahan medis habis pakai untuk apotek/klinik desa, diantar sampai ke "
                "koperasi. Apotek wajib punya apoteker penanggung jawab."
            ),
            business_units=["apotek desa", "apotik desa", "klinik desa"],
            commodities=["obat generik", "BMHP"],
            regions=regions,
            capacity=rng.choice((None, 40, 80)),
            valid_until=self.valid_until(0.5),
        )

    def pos(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.5, 0.3, 0.0))
        self.add(
            "pos-indonesia",
            rng.choice(("logistik", "kirim-hasil")),
            slug,
            partner_name="PT Pos Indonesia (Persero)",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.LOGISTICS,
            title="Layanan logistik dan pengiriman hasil usaha koperasi",
            description=(
                "Pos Indonesia menjemput dan mengirim barang koperasi (sembako, obat, "
                "hasil bumi anggota) dengan tarif khusus Kopdes Merah Putih, termasuk "
                "layanan agen pos di gerai koperasi."
            ),
            business_units=["logistik", "unit logistik", "gerai sembako"],
            regions=regions,
            valid_until=self.valid_until(0.4),
        )

    def agrinas(self) -> None:
        rng = self.rng
        regions, slug = self.regions_for((0.3, 0.3, 0.0))
        what = rng.choice(
            (
                (
                    "gudang-gerai",
                    "Pembangunan gerai dan gudang Kopdes Merah Putih",
                    "Agrinas Pangan Nusantara membangun gerai sembako dan gudang koperasi di lahan "
                    "desa yang sudah siap (minimal 1.000 m²).",
                    ["gerai sembako", "gudang", "pergudangan"],
                ),
                (
                    "truk",
                    "Pengadaan truk operasional koperasi",
                    "Penyediaan truk engkel untuk unit logistik koperasi, skema sewa-beli.",
                    ["logistik", "unit logistik"],
                ),
                (
                    "cold-storage",
                    "Pembangunan cold storage untuk koperasi",
                    "Gudang pendingin kapasitas 10–20 ton untuk ikan dan hasil bumi anggota.",
                    ["cold storage", "gudang pendingin"],
                ),
            )
        )
        product, title, description, units = what
        self.add(
            "agrinas-pangan-nusantara",
            product,
            slug,
            partner_name="PT Agrinas Pangan Nusantara (Persero)",
            partner_type=PartnerType.BUMN,
            offer_type=OfferType.EQUIPMENT,
            title=title,
            description=description,
            business_units=units,
            regions=regions,
            min_members=rng.choice((None, 50, 100)),
            capacity=rng.choice((None, 10, 20, 40)),
            valid_until=self.valid_until(0.5),
        )

    def offtake(self, commodity: str | None = None) -> None:
        rng = self.rng
        if commodity is None:
            anchor = self.regency()
            produce = {k: v for k, v in produce_of(anchor.code).items() if k in OFFTAKE}
            if not produce:
                return self.training()
            commodity = rng.choices(list(produce), weights=list(produce.values()))[0]
        offtake = OFFTAKE[commodity]
        regions, slug = self.regions_for((0.1, 0.35, 0.15), commodity)
        island = ISLAND_WORDS.get(regions[0][0], ("Nusantara",))
        company = (
            f"{rng.choice(('PT', 'PT', 'CV'))} {rng.choice(offtake.company_words)} "
            f"{rng.choice(island)} {rng.choice(COMPANY_SUFFIXES)}"
        )
        volume = rng.choice(
            (
                "minimal 1 ton per minggu",
                "minimal 5 ton per bulan",
                "berapa pun volumenya",
                "minimal 500 kg per pengiriman",
            )
        )
        self.add(
            slugify(company.removeprefix("PT ").removeprefix("CV ")),
            offtake.product,
            slug,
            partner_name=company,
            partner_type=PartnerType.BUSINESS,
            offer_type=OfferType.OFFTAKE,
            title=f"Membeli {offtake.goods} dari koperasi",
            description=(
                f"{company} membeli {offtake.goods} hasil anggota koperasi di "
                f"{self.table.describe(regions[0])}, {volume}. Harga mengikuti harga "
                f"pasar/penetapan dinas, pembayaran maksimal 7 hari, dijemput di gudang "
                f"koperasi."
            ),
            business_units=list(offtake.units),
            commodities=list(offtake.terms),
            regions=regions,
            min_members=rng.choice((None, None, 30, 50)),
            capacity=rng.choice((None, 5, 10, 20)),
            valid_until=self.valid_until(0.6),
        )
        return None

    def training(self, government: bool | None = None) -> None:
        rng = self.rng
        anchor = self.regency()
        province = self.table.get(anchor.code[:2])
        assert province is not None
        if government is None:
            government = rng.random() < 0.5
        commodity_trainings = [c for c in produce_of(anchor.code) if c in COMMODITY_TRAININGS]
        if commodity_trainings and rng.random() < 0.4:
            c = rng.choice(commodity_trainings)
            training = COMMODITY_TRAININGS[c]
            units, commodities = OFFTAKE[c].units, OFFTAKE[c].terms
            regions, slug = self.regions_for((0.2, 0.3, 0.2), c)
        else:
            training = rng.choice(TRAININGS)
            units, commodities = training.units, training.commodities
            regions, slug = self.regions_for((0.4, 0.2, 0.15))
        if government:
            province = self.table.get(regions[0][:2])
            assert province is not None
            partner_id = f"dinas-kukm-{province_slug(province.code)}"[:64]
            partner_name = f"Dinas Koperasi dan UKM Provinsi {province.name}"
            partner_type = PartnerType.GOVERNMENT
        else:
            partner_id, partner_name = rng.choice(NGOS)
            partner_type = PartnerType.NGO
        self.add(
            partner_id,
            f"pelatihan-{training.product}",
            slug,
            partner_name=partner_name,
            partner_type=partner_type,
            offer_type=OfferType.TRAINING,
            title=training.title,
            description=training.description + " Gratis untuk pengurus dan pengelola unit.",
            business_units=list(units),
            commodities=list(commodities),
            regions=regions,
            capacity=rng.choice((None, 20, 30, 50)),
            valid_until=self.valid_until(0.8),
        )
