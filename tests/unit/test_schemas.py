"""The contract models accept what CONTRACT.md allows and refuse everything else."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from schemas import CooperativeProfile, OfferWithdrawn, PartnerOffer
from tests.support import builders


def refused(model: type[BaseModel], payload: dict) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(payload)
    return str(info.value)


def test_valid_payloads_are_accepted():
    profile = CooperativeProfile.model_validate(builders.profile())
    assert profile.village_code == builders.KUALA_DUA
    offer = PartnerOffer.model_validate(builders.offer())
    assert offer.regions == ["61.12"]
    assert OfferWithdrawn.model_validate(builders.withdrawal()).reason == "kuota habis"


@pytest.mark.parametrize(
    "identifier", ["a", "A-Z_09.x", "x" * 64, "KDMP-6112012004", "bri.kur_2026-01"]
)
def test_identifiers_of_the_allowed_characters(identifier):
    assert CooperativeProfile.model_validate(builders.profile(cooperative_id=identifier))


@pytest.mark.parametrize("identifier", ["", "x" * 65, "bad id", "a/b", "ä", "a:b", "a*"])
def test_identifiers_outside_the_rules_are_refused(identifier):
    assert "cooperative_id" in refused(
        CooperativeProfile, builders.profile(cooperative_id=identifier)
    )
    assert "offer_id" in refused(PartnerOffer, builders.offer(offer_id=identifier))
    assert "partner_id" in refused(PartnerOffer, builders.offer(partner_id=identifier))


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_names_are_one_to_200_characters(name):
    assert "name" in refused(CooperativeProfile, builders.profile(name=name))
    assert "title" in refused(PartnerOffer, builders.offer(title=name))
    assert "partner_name" in refused(PartnerOffer, builders.offer(partner_name=name))


@pytest.mark.parametrize("code", ["61.12", "61", "61.12.01", "61.12.01.9999", "99.99.99.9999", ""])
def test_village_code_must_be_an_existing_village(code):
    assert "village_code" in refused(CooperativeProfile, builders.profile(village_code=code))


@pytest.mark.parametrize("regions", [[], ["61"], ["61.12"], ["61.12.01"], ["61.12.01.2004", "11"]])
def test_offer_regions_of_any_level_that_exist(regions):
    assert PartnerOffer.model_validate(builders.offer(regions=regions)).regions == regions


@pytest.mark.parametrize("regions", [["62.99"], ["6"], ["61.12.01.2004.1"], ["Kubu Raya"]])
def test_unknown_offer_regions_are_refused(regions):
    assert "regions" in refused(PartnerOffer, builders.offer(regions=regions))


@pytest.mark.parametrize("value", [-1, 1.5, "12", True, None])
def test_member_count_is_a_non_negative_integer(value):
    assert "member_count" in refused(CooperativeProfile, builders.profile(member_count=value))


@pytest.mark.parametrize("field", ["min_members", "min_amount_idr", "max_amount_idr", "capacity"])
def test_offer_numbers_are_non_negative_integers_or_null(field):
    assert PartnerOffer.model_validate(builders.offer(**{field: None}))
    assert field in refused(PartnerOffer, builders.offer(**{field: -5}))
    assert field in refused(PartnerOffer, builders.offer(**{field: "5"}))


def test_financing_need_is_whole_rupiah():
    assert CooperativeProfile.model_validate(builders.profile(financing_need_idr=None))
    assert "financing_need_idr" in refused(
        CooperativeProfile, builders.profile(financing_need_idr=1.5)
    )
    assert "financing_need_idr" in refused(
        CooperativeProfile, builders.profile(financing_need_idr=-1)
    )


def test_amount_range_must_be_ordered():
    message = refused(PartnerOffer, builders.offer(min_amount_idr=10, max_amount_idr=9))
    assert "min_amount_idr" in message and "max_amount_idr" in message
    assert PartnerOffer.model_validate(builders.offer(min_amount_idr=10, max_amount_idr=10))


@pytest.mark.parametrize("field,value", [("partner_type", "bumd"), ("offer_type", "grant")])
def test_enums_accept_only_the_contract_values(field, value):
    assert field in refused(PartnerOffer, builders.offer(**{field: value}))


@pytest.mark.parametrize(
    "partner_type", ["bank", "bumn", "business", "cooperative", "ngo", "government"]
)
def test_every_partner_type_is_accepted(partner_type):
    assert PartnerOffer.model_validate(builders.offer(partner_type=partner_type))


@pytest.mark.parametrize(
    "updated_at", ["2026-11-01T08:00:00", "2026-11-01", "kemarin", None, 1730419200]
)
def test_times_need_an_offset(updated_at):
    assert "updated_at" in refused(CooperativeProfile, builders.profile(updated_at=updated_at))
    assert "updated_at" in refused(PartnerOffer, builders.offer(updated_at=updated_at))


def test_valid_until_is_a_date():
    assert "valid_until" in refused(PartnerOffer, builders.offer(valid_until="30/06/2027"))
    offer = PartnerOffer.model_validate(builders.offer(valid_until=None))
    assert offer.valid_until is None


@pytest.mark.parametrize(
    "field", ["cooperative_id", "name", "village_code", "member_count", "updated_at"]
)
def test_required_profile_fields(field):
    payload = builders.profile()
    del payload[field]
    assert f"{field}: required field is missing" in _reason(CooperativeProfile, payload)


@pytest.mark.parametrize(
    "field",
    ["offer_id", "partner_id", "partner_name", "partner_type", "offer_type", "title", "updated_at"],
)
def test_required_offer_fields(field):
    payload = builders.offer()
    del payload[field]
    assert f"{field}: required field is missing" in _reason(PartnerOffer, payload)


def test_optional_fields_default_to_empty():
    minimal = {
        k: builders.profile()[k]
        for k in ("cooperative_id", "name", "village_code", "member_count", "updated_at")
    }
    profile = CooperativeProfile.model_validate(minimal)
    assert (profile.business_units, profile.commodities, profile.needs) == ([], [], "")
    assert profile.financing_need_idr is None


def test_unknown_fields_are_ignored_for_forward_compatibility():
    profile = CooperativeProfile.model_validate(builders.profile(nib="1234567890"))
    assert not hasattr(profile, "nib")


def test_term_lists_are_bounded():
    assert "business_units" in refused(
        CooperativeProfile, builders.profile(business_units=["USP"] * 51)
    )
    assert "commodities" in refused(CooperativeProfile, builders.profile(commodities=["x" * 201]))


def _reason(model: type[BaseModel], payload: dict) -> str:
    from services.ingest.intake import describe_validation_error

    with pytest.raises(ValidationError) as info:
        model.model_validate(payload)
    return describe_validation_error(info.value)
