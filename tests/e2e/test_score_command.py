"""`kopdes-match score`: the batch command of CONTRACT.md, on small files."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from typer.testing import CliRunner

from schemas import suggestion_id
from services.cli import app
from tests.support import builders

runner = CliRunner()


def write_jsonl(path: Path, items: list) -> Path:
    path.write_text("".join((i if isinstance(i, str) else json.dumps(i)) + "\n" for i in items))
    return path


def score(*args: str):
    return runner.invoke(app, ["score", *args])


def coops(tmp_path: Path, extra: list | None = None) -> Path:
    items = [
        builders.profile(cooperative_id="fit"),
        builders.profile(
            cooperative_id="weaker",
            village_code=builders.SUNGAI_RAYA,
            business_units=["kios sembako"],
            commodities=["jagung"],
            needs="",
            financing_need_idr=None,
        ),
        builders.profile(
            cooperative_id="sambas",
            village_code=builders.SAMBAS_VILLAGE,
            business_units=["KPL", "USP"],
            needs="butuh pasokan pupuk untuk kios",
        ),
        builders.profile(cooperative_id="tiny", member_count=3),
        builders.profile(cooperative_id="too-big-need", financing_need_idr=9_000_000_000),
    ]
    return write_jsonl(tmp_path / "coops.jsonl", items + (extra or []))


def offers(tmp_path: Path, extra: list | None = None) -> Path:
    items = [
        builders.offer(),
        builders.offer(
            offer_id="pupuk-sambas",
            partner_id="pupuk-indonesia",
            partner_type="bumn",
            offer_type="supply",
            title="Pasokan pupuk untuk kios pupuk",
            business_units=["kios pupuk"],
            regions=["61.01"],
            min_members=None,
            min_amount_idr=None,
            max_amount_idr=None,
        ),
    ]
    return write_jsonl(tmp_path / "offers.jsonl", items + (extra or []))


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_ranks_eligible_cooperatives_per_offer(tmp_path):
    result = score(
        "--cooperatives",
        str(coops(tmp_path)),
        "--offers",
        str(offers(tmp_path)),
        "--as-of",
        "2026-11-27",
    )
    assert result.exit_code == 0, result.output
    out = lines(result.stdout)
    bri = [s for s in out if s["offer_id"] == "bri-kur-kuburaya-2026"]
    # Outside the region, too few members, a need above the range: never in the output.
    assert [s["cooperative_id"] for s in bri] == ["fit", "weaker"]
    assert [s["rank"] for s in bri] == [1, 2]
    assert bri[0]["score"] > bri[1]["score"]
    for suggestion in out:
        assert {"offer_id", "cooperative_id", "rank", "score", "explanation"} <= set(suggestion)
        assert all(
            {"name", "weight", "score", "detail"} <= set(c) for c in suggestion["explanation"]
        )
    assert [s["cooperative_id"] for s in out if s["partner_id"] == "pupuk-indonesia"] == ["sambas"]


def test_top_k_limits_each_ranking(tmp_path):
    result = score(
        "--cooperatives", str(coops(tmp_path)), "--offers", str(offers(tmp_path)), "--top-k", "1"
    )
    assert result.exit_code == 0
    out = lines(result.stdout)
    assert len([s for s in out if s["partner_id"] == "bri"]) == 1


def test_per_cooperative_ranks_offers(tmp_path):
    second = builders.offer(
        offer_id="bni-kubu-raya",
        partner_id="bni",
        title="Kredit usaha untuk gerai sembako",
        business_units=["gerai sembako"],
    )
    result = score(
        "--cooperatives",
        str(coops(tmp_path)),
        "--offers",
        str(offers(tmp_path, [second])),
        "--per",
        "cooperative",
    )
    assert result.exit_code == 0
    fit = [s for s in lines(result.stdout) if s["cooperative_id"] == "fit"]
    assert [s["rank"] for s in fit] == [1, 2]
    assert {s["partner_id"] for s in fit} == {"bri", "bni"}
    assert fit[0]["score"] >= fit[1]["score"]


def test_as_of_sets_the_expiry_date(tmp_path):
    expiring = builders.offer(offer_id="short", valid_until="2026-12-01")
    args = ["--cooperatives", str(coops(tmp_path)), "--offers", str(offers(tmp_path, [expiring]))]
    before = lines(score(*args, "--as-of", "2026-12-01").stdout)
    after = lines(score(*args, "--as-of", "2026-12-02").stdout)
    assert any(s["offer_id"] == "short" for s in before)
    assert not any(s["offer_id"] == "short" for s in after)


def test_capacity_caps_the_ranking(tmp_path):
    capped = builders.offer(capacity=1)
    result = score(
        "--cooperatives",
        str(coops(tmp_path)),
        "--offers",
        str(write_jsonl(tmp_path / "o.jsonl", [capped])),
    )
    assert [s["cooperative_id"] for s in lines(result.stdout)] == ["fit"]
    per_coop = score(
        "--cooperatives",
        str(coops(tmp_path)),
        "--offers",
        str(tmp_path / "o.jsonl"),
        "--per",
        "cooperative",
    )
    assert [s["cooperative_id"] for s in lines(per_coop.stdout)] == ["fit"]


def test_invalid_lines_are_reported_and_stop_the_command(tmp_path):
    bad = ["{not json", builders.profile(cooperative_id="x y")]
    coop_file = coops(tmp_path, bad)
    result = score("--cooperatives", str(coop_file), "--offers", str(offers(tmp_path)))
    assert result.exit_code == 2
    assert result.stdout == ""
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"{coop_file}:6: ")
    assert errors[1].startswith(f"{coop_file}:7: cooperative_id")


def test_skip_invalid_reports_and_goes_on(tmp_path):
    coop_file = coops(tmp_path, ['{"cooperative_id": "no-rest"}'])
    result = score(
        "--cooperatives", str(coop_file), "--offers", str(offers(tmp_path)), "--skip-invalid"
    )
    assert result.exit_code == 0
    assert f"{coop_file}:6: " in result.stderr
    assert lines(result.stdout)


def test_bad_options_exit_2(tmp_path):
    args = ["--cooperatives", str(coops(tmp_path)), "--offers", str(offers(tmp_path))]
    assert score(*args, "--per", "village").exit_code == 2
    assert score(*args, "--as-of", "27-11-2026").exit_code == 2
    assert (
        score(
            "--cooperatives", str(tmp_path / "missing.jsonl"), "--offers", str(offers(tmp_path))
        ).exit_code
        == 2
    )


def test_suggestion_ids_are_the_live_pipelines(tmp_path):
    result = score("--cooperatives", str(coops(tmp_path)), "--offers", str(offers(tmp_path)))
    out = lines(result.stdout)
    assert out
    for s in out:
        assert s["suggestion_id"] == suggestion_id(
            s["partner_id"], s["offer_id"], s["cooperative_id"]
        )


def test_newest_version_of_each_line_wins(tmp_path):
    """As in the live pipeline: the newest ``updated_at``, on a tie the later line."""
    older = builders.profile(cooperative_id="fit", member_count=3)
    newer = builders.profile(cooperative_id="fit", updated_at="2026-11-02T08:00:00+07:00")
    tie = builders.profile(
        cooperative_id="fit", updated_at="2026-11-02T08:00:00+07:00", member_count=4
    )
    args = ["--offers", str(offers(tmp_path)), "--as-of", "2026-11-27"]
    both = write_jsonl(tmp_path / "a.jsonl", [older, newer])
    assert "fit" in {
        s["cooperative_id"] for s in lines(score("--cooperatives", str(both), *args).stdout)
    }
    swapped = write_jsonl(tmp_path / "b.jsonl", [newer, older])
    assert "fit" in {
        s["cooperative_id"] for s in lines(score("--cooperatives", str(swapped), *args).stdout)
    }
    tied = write_jsonl(tmp_path / "c.jsonl", [newer, tie])
    assert "fit" not in {
        s["cooperative_id"] for s in lines(score("--cooperatives", str(tied), *args).stdout)
    }


def test_any_number_of_workers_writes_the_same_output(tmp_path):
    """Each worker ranks every offer against a slice of the cooperatives and the parent
    merges: the lines are the same, in the same order, as in one process, with offers
    national, provincial and local, and many ties."""
    from services.demo import synthetic

    profiles = synthetic.cooperatives(seed=5)  # Kalimantan Barat, one per village
    found = synthetic.offers(count=40, seed=5, today=date(2026, 6, 1))
    national = [o.model_copy(update={"regions": []}) for o in found[:8]]
    coop_file = write_jsonl(tmp_path / "c.jsonl", [p.model_dump_json() for p in profiles])
    offer_file = write_jsonl(
        tmp_path / "o.jsonl", [o.model_dump_json() for o in national + found[8:]]
    )
    args = ["--cooperatives", str(coop_file), "--offers", str(offer_file), "--as-of", "2026-06-01"]
    outputs = [score(*args, "--workers", str(n)) for n in (1, 2, 3)]
    assert all(result.exit_code == 0 for result in outputs), outputs[1].output
    assert len(lines(outputs[0].stdout)) > 100
    assert outputs[1].stdout == outputs[0].stdout
    assert outputs[2].stdout == outputs[0].stdout
    empty = write_jsonl(tmp_path / "none.jsonl", [])
    nothing = score("--cooperatives", str(empty), "--offers", str(offer_file), "--workers", "2")
    assert (nothing.exit_code, nothing.stdout) == (0, "")


def test_the_command_loads_neither_sqlalchemy_nor_faststream(tmp_path):
    """The command line's start-up and ``score`` stay off the table models and the broker
    (services/cli/__init__.py): checked in a fresh interpreter, as the command runs."""
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from services.cli import app\n"
        "result = CliRunner().invoke(app, sys.argv[1:])\n"
        "assert result.exit_code == 0, result.output\n"
        "print(sorted({m.split('.')[0] for m in sys.modules}"
        " & {'sqlalchemy', 'sqlmodel', 'faststream', 'nats'}))\n"
    )
    args = ["score", "--cooperatives", str(coops(tmp_path)), "--offers", str(offers(tmp_path))]
    done = subprocess.run(
        [sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
