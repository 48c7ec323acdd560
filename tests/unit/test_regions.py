from schemas.regions import (
    Level,
    parent_code,
    provinces_summary,
    regency_code,
    region_contains,
    region_table,
)


def test_region_table_has_every_level():
    table = region_table()
    counts = {level: len(table.of_level(level)) for level in Level}
    assert counts == {
        Level.PROVINCE: 38,
        Level.REGENCY: 514,
        Level.DISTRICT: 7285,
        Level.VILLAGE: 83762,
    }


def test_kalimantan_barat():
    table = region_table()
    assert table.name("61") == "Kalimantan Barat"
    assert len(table.of_level(Level.REGENCY, within="61")) == 14
    assert len(table.of_level(Level.DISTRICT, within="61")) == 174
    assert len(table.villages("61")) == 2145


def test_loaded_once():
    assert region_table() is region_table()


def test_names_and_descriptions():
    table = region_table()
    assert table.describe("61.12.01.2004") == "Kuala Dua, Sungai Raya, Kubu Raya, Kalimantan Barat"
    assert [r.code for r in table.lineage("61.12.01.2004")] == [
        "61",
        "61.12",
        "61.12.01",
        "61.12.01.2004",
    ]
    assert table.name("99.99") == "99.99"
    assert table.is_village("61.12.01.2004")
    assert not table.is_village("61.12.01")


def test_containment_at_every_level():
    village = "61.12.01.2004"
    for region in ("61", "61.12", "61.12.01", "61.12.01.2004"):
        assert region_contains(region, village)
    # A prefix of the digits is not a prefix of the code.
    assert not region_contains("61.1", village)
    assert not region_contains("6", village)
    assert not region_contains("61.12.01.200", village)
    assert not region_contains("61.12.02", village)
    assert not region_contains("61.12.01.2004", "61.12.01")


def test_parent_and_regency_codes():
    assert parent_code("61.12.01.2004") == "61.12.01"
    assert parent_code("61") is None
    assert regency_code("61.12.01.2004") == "61.12"
    assert regency_code("61.12") == "61.12"


def test_the_provinces_summary_is_the_table_counted() -> None:
    """What a matcher reads instead of the table: the same provinces, regencies and villages."""
    table, summary = region_table(), provinces_summary()
    provinces = table.of_level(Level.PROVINCE)
    assert list(summary) == sorted(p.code for p in provinces)
    for province in provinces:
        found = summary[province.code]
        regencies = sorted(r.code for r in table.of_level(Level.REGENCY, province.code))
        assert list(found.regencies) == regencies
        assert found.villages == len(table.villages(province.code)) > 0
    assert sum(p.villages for p in summary.values()) == 83_762
    assert summary["61"].villages == 2_145  # Kalimantan Barat, as DOMAIN.md counts it
