"""`evaluate_file`: per-tag precision / recall / F1, tagger beside the keyword baseline.

Enters: tests/fixtures/nlp/eval_small.jsonl (six real labelled records copied from
data/fr_labeled_dev.jsonl; figures below computed by hand), data/fr_labeled_dev.jsonl (the file
the rules were tuned on), data/fr_check_set.jsonl (249 other real documents labelled by the
same rules, kept apart to catch rules that only fit the dev file) and data/fr_check_set_2.jsonl
(200 more, disjoint from both, built by a second audit; see data/fr_check_set_2.md).
Leaves: pass/fail.

Hand count for eval_small.jsonl (r5 "Entity List Additions" is the only borderline record):
  tagger   ai:  predicts r1, r6; gold r1, r6 (+ r5 borderline) -> non-borderline 1/1/1;
                all: tp 2, fn 1 (r5) -> P 1, R 2/3, F1 0.8
  tagger   export_control: predicts r2, r4, r5 = gold -> 1/1/1 on both subsets
  baseline ai ("artificial intelligence"): only r1 -> non-borderline P 1, R 1/2, F1 2/3;
                all: R 1/3, F1 0.5
  baseline export_control ("export"): r2, r3 (President's Export Council), r4, r5 ->
                non-borderline tp 2, fp 1: P 2/3, R 1, F1 0.8; all: tp 3, fp 1: P 0.75, F1 6/7
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp import evaluate_file, load_tagger
from nlp.tagger import Tagger

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "fixtures" / "nlp" / "eval_small.jsonl"
DEV = ROOT / "data" / "fr_labeled_dev.jsonl"
CHECK = ROOT / "data" / "fr_check_set.jsonl"
CHECK_2 = ROOT / "data" / "fr_check_set_2.jsonl"


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return load_tagger()


def f1(report, system: str, subset: str, tag: str) -> float:
    return round(report.figures[system][subset][tag].f1, 4)


def test_small_file_figures_match_hand_count(tagger: Tagger) -> None:
    report = evaluate_file(SMALL, tagger)
    assert (report.documents, report.borderline) == (6, 1)
    expected = {
        ("tagger", "non_borderline", "ai"): 1.0,
        ("tagger", "all", "ai"): 0.8,
        ("tagger", "non_borderline", "export_control"): 1.0,
        ("tagger", "all", "export_control"): 1.0,
        ("baseline", "non_borderline", "ai"): 0.6667,
        ("baseline", "all", "ai"): 0.5,
        ("baseline", "non_borderline", "export_control"): 0.8,
        ("baseline", "all", "export_control"): 0.8571,
    }
    assert {key: f1(report, *key) for key in expected} == expected
    counts = report.figures["baseline"]["all"]["export_control"]
    assert (counts.tp, counts.fp, counts.fn, counts.tn) == (3, 1, 0, 2)


def test_small_file_lists_each_miss(tagger: Tagger) -> None:
    report = evaluate_file(SMALL, tagger)
    assert [(m["kind"], m["tag"], m["document_number"]) for m in report.misses] == [
        ("false_negative", "ai", "2023-23048")
    ]
    text = report.format_text()
    assert "ai              all             1.00 / 0.67 / 0.80        1.00 / 0.33 / 0.50" in text
    assert "FN ai             2023-23048  score 0.00 [borderline]  Entity List Additions" in text
    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["figures"]["baseline"]["non_borderline"]["export_control"]["precision"] == (
        0.6667
    )


def test_baseline_reproduces_published_dev_figures(tagger: Tagger) -> None:
    report = evaluate_file(DEV, tagger)
    baseline = {
        (subset, tag): round(f1(report, "baseline", subset, tag), 2)
        for subset in ("non_borderline", "all")
        for tag in ("ai", "export_control")
    }
    assert baseline == {
        ("non_borderline", "ai"): 0.88,
        ("non_borderline", "export_control"): 0.81,
        ("all", "ai"): 0.71,
        ("all", "export_control"): 0.82,
    }


@pytest.mark.parametrize("path", [DEV, CHECK, CHECK_2], ids=["dev", "check_set", "check_set_2"])
def test_tagger_meets_quality_goals(tagger: Tagger, path: Path) -> None:
    report = evaluate_file(path, tagger)
    for tag in ("ai", "export_control"):
        assert f1(report, "tagger", "non_borderline", tag) >= 0.95
        assert f1(report, "tagger", "all", tag) >= 0.90


def test_check_set_is_independent_of_dev() -> None:
    numbers = {r["document_number"] for r in map(json.loads, DEV.read_text().splitlines())}
    check = [json.loads(line) for line in CHECK.read_text().splitlines()]
    assert len(check) == 249
    assert not numbers & {r["document_number"] for r in check}


def test_second_check_set_is_independent_of_dev_and_first_check_set() -> None:
    def keys(path: Path) -> tuple[set[str], set[str]]:
        records = [json.loads(line) for line in path.read_text().splitlines()]
        return {r["document_number"] for r in records}, {r["title"].lower() for r in records}

    numbers, titles = keys(CHECK_2)
    assert len(numbers) == len(titles) == 200
    for other in (DEV, CHECK):
        other_numbers, other_titles = keys(other)
        assert not numbers & other_numbers
        assert not titles & other_titles


def test_tagger_beats_the_baseline_on_the_check_set(tagger: Tagger) -> None:
    report = evaluate_file(CHECK, tagger)
    for tag in ("ai", "export_control"):
        for subset in ("non_borderline", "all"):
            assert f1(report, "tagger", subset, tag) > f1(report, "baseline", subset, tag)


def test_missing_label_names_the_line(tmp_path: Path, tagger: Tagger) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(
        '{"title": "x", "ai": true, "export_control": false, "borderline": false}\n'
        '{"title": "y", "ai": true}\n'
    )
    with pytest.raises(ValueError, match="line 2: missing or non-boolean label export_control"):
        evaluate_file(path, tagger)
