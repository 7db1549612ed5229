"""The README states the figures in benchmarks/claims.json, the one place `benchmarks/claims.py` measures against."""

import json
import re

from conftest import ROOT

CLAIMS = json.loads((ROOT / "benchmarks" / "claims.json").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")
DATASET_ROWS = {"sms_spam": "SMS Spam Collection", "trec": "TREC", "sst2": "SST-2", "imdb": "IMDB",
                "20newsgroups": "20 Newsgroups"}


def table_row(first_cell):
    """The cells of the README table row whose first cell is `first_cell`, bold marks removed."""
    rows = [line for line in README.splitlines() if line.startswith(f"| {first_cell} |")]
    assert len(rows) == 1, f"README: {len(rows)} table rows start with {first_cell!r}"
    return [cell.strip().strip("*") for cell in rows[0].strip("|").split("|")]


def number(cell):
    return float(re.match(r"[\d.]+", cell.replace(",", "")).group())


def test_readme_dataset_table_states_the_claims():
    for dataset, name in DATASET_ROWS.items():
        cells, claimed = table_row(name), CLAIMS["single_label"][dataset]
        assert [number(cells[3]), number(cells[4]), number(cells[5])] == [
            claimed["accuracy"], claimed["tfidf_lr"], claimed["minutes"]], dataset


def test_readme_multi_label_figures_state_the_claims():
    cells, claimed = table_row("textclf `--multi-label`"), CLAIMS["goemotions"]
    assert [number(cell) for cell in cells[1:6]] == [claimed[key] for key in
                                                     ("macro_f1", "micro_f1", "subset_accuracy", "hamming_loss",
                                                      "minutes")]


def test_readme_demo_figures_state_the_claims():
    assert f"Its test accuracy is {CLAIMS['demo']['accuracy']:g}" in README
    assert f"about {CLAIMS['demo']['seconds']:g} s of training" in README
