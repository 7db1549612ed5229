"""Slow integration tests on the real datasets in ../shared/data (CI runs them)."""

import pytest

from conftest import SHARED_DATA

pytestmark = pytest.mark.slow


def test_trec_with_defaults_reaches_085(tmp_path):
    from textclf.cli import main

    out = tmp_path / "trec"
    code = main(["train", "--input", str(SHARED_DATA / "trec" / "train.csv.gz"),
                 "--test", str(SHARED_DATA / "trec" / "test.csv.gz"), "--output", str(out), "--quiet"])
    assert code == 0
    import json

    meta = json.loads((out / "metadata.json").read_text())
    metrics = meta["fitted"]["metrics"]
    assert metrics["evaluated_on"].startswith("test")
    assert metrics["accuracy"] >= 0.85, metrics
