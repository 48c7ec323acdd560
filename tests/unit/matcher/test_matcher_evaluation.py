import math

import pytest

from matcher.evaluation import (
    TARGETS,
    EvaluationReport,
    Metrics,
    evaluate,
    evaluate_set,
    format_report,
    ndcg,
    precision,
)


def test_ndcg_of_ideal_and_reversed_rankings() -> None:
    assert ndcg([3, 2, 1], [1, 2, 3]) == pytest.approx(1.0)
    reversed_ = ndcg([1, 2, 3], [1, 2, 3])
    assert reversed_ is not None and 0 < reversed_ < 1
    assert ndcg([0, 0], [0]) is None  # nothing to find
    assert ndcg([], [3]) == 0.0


def test_ndcg_uses_graded_gain() -> None:
    gain = ndcg([0, 3], [3])
    assert gain == pytest.approx(1 / math.log2(3))


def test_precision_counts_good_grades() -> None:
    assert precision([3, 2, 1, 0, 2]) == pytest.approx(3 / 5)
    assert precision([3]) == 1.0
    assert precision([]) is None


def _report(set_) -> EvaluationReport:
    return evaluate_set(set_)


@pytest.mark.parametrize("which", ["dev_set", "heldout_set"])
def test_targets_reached(which: str, request: pytest.FixtureRequest) -> None:
    report = _report(request.getfixturevalue(which))
    for direction, m in report.matcher.items():
        assert m.ndcg_at_10 >= TARGETS["ndcg_at_10"], (direction, m)
        assert m.precision_at_5 >= TARGETS["precision_at_5"], (direction, m)
        assert m.eligibility_violations == 0, (direction, m)
        assert m.suggestions > 0
    assert report.meets_targets()


@pytest.mark.parametrize("which", ["dev_set", "heldout_set"])
def test_matcher_beats_the_naive_baseline(which: str, request: pytest.FixtureRequest) -> None:
    report = _report(request.getfixturevalue(which))
    for direction in ("per_offer", "per_cooperative"):
        ours, base = report.matcher[direction], report.baseline[direction]
        assert ours.ndcg_at_10 > base.ndcg_at_10
        assert ours.precision_at_5 > base.precision_at_5
        assert base.eligibility_violations > 0  # the baseline ignores the hard rules


def test_sets_have_graded_judgments_of_every_grade(dev_set, heldout_set) -> None:
    for s in (dev_set, heldout_set):
        assert {1, 2, 3} <= set(s.judgments.values())
        assert len(s.cooperatives) >= 20 and len(s.offers) >= 10


def test_evaluate_is_a_pure_function_of_its_inputs(dev_set) -> None:
    a = evaluate(dev_set.cooperatives, dev_set.offers, dev_set.judgments, dev_set.as_of)
    b = evaluate(dev_set.cooperatives, dev_set.offers, dev_set.judgments, dev_set.as_of)
    assert a == b


def test_format_report() -> None:
    m = Metrics(0.95, 1.0, 0.0, 12, 4)
    text = format_report(EvaluationReport("x", {"per_offer": m}, {"per_offer": m}))
    assert "nDCG@10" in text and "0.950" in text and "met" in text
    assert text.splitlines()[0] == "Evaluation set: x"


def test_load_set_reads_contract_payloads() -> None:
    from datetime import date

    from matcher.evaluation import load_set

    data = {
        "as_of": "2026-06-01",
        "cooperatives": [
            {
                "cooperative_id": "c",
                "village_code": "61.01.01.2001",
                "member_count": 3,
                "business_units": ["USP"],
                "needs": None,
            }
        ],
        "offers": [
            {
                "offer_id": "o",
                "partner_id": "p",
                "offer_type": "financing",
                "title": "t",
                "valid_until": "2026-12-31",
                "withdrawn": True,
            }
        ],
        "judgments": [{"offer": "p/o", "cooperative": "c", "grade": 2}],
    }
    s = load_set(data)
    assert s.as_of == date(2026, 6, 1)
    assert s.cooperatives[0].business_units == ("USP",) and s.cooperatives[0].needs == ""
    assert s.offers[0].valid_until == date(2026, 12, 31) and s.offers[0].withdrawn
    assert s.judgments == {("p/o", "c"): 2}


def test_format_report_of_a_real_run(heldout_set) -> None:
    text = format_report(evaluate_set(heldout_set))
    assert "matcher" in text and "baseline" in text and "per_cooperative" in text
