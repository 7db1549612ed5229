"""Error analysis, calibration, report.html and compare.html (rendered in a real headless Chromium)."""

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from conftest import FAST_OPTIONS, make_texts, write_csv

LABELS = ["animals", "food", "sports"]


def synthetic_run(report_dir, **extra):
    """write_reports on 60 made-up rows, a third of them wrong, with known confidences."""
    from textclf.evaluation.reports import write_reports
    from textclf.tasks.single_label import SingleLabel

    rng = np.random.default_rng(0)
    true_codes = np.array([i % 3 for i in range(60)])
    predicted_codes = np.array([(i + (i % 3 == 0) + (i % 9 == 0)) % 3 for i in range(60)])
    y_true, y_pred = [LABELS[i] for i in true_codes], [LABELS[i] for i in predicted_codes]
    confidence = rng.uniform(0.34, 1.0, size=60)
    texts = [f"text number {i}" for i in range(60)]
    metrics = write_reports(report_dir, SingleLabel(LABELS), true_codes, predicted_codes, confidence,
                            evaluated_on="test", texts=texts, **extra)
    return metrics, y_true, y_pred, confidence


def test_errors_csv_holds_every_misclassified_row_most_confident_first(tmp_path):
    metrics, y_true, y_pred, confidence = synthetic_run(tmp_path)
    errors = pd.read_csv(tmp_path / "errors.csv", dtype={"text": str})
    matrix = pd.read_csv(tmp_path / "confusion_matrix.csv", index_col=0).to_numpy()
    assert len(errors) == matrix.sum() - np.trace(matrix) == sum(t != p for t, p in zip(y_true, y_pred)) > 0
    assert list(errors.columns) == ["text", "true_label", "predicted_label", "confidence"]
    assert (errors["true_label"] != errors["predicted_label"]).all()
    assert errors["confidence"].is_monotonic_decreasing
    row = int(errors["text"][0].split()[-1])
    assert errors["confidence"][0] == pytest.approx(confidence[row], abs=1e-6)
    assert (errors["true_label"][0], errors["predicted_label"][0]) == (y_true[row], y_pred[row])


def test_confused_pairs_count_the_matrix_cells_with_examples(tmp_path):
    synthetic_run(tmp_path)
    pairs = pd.read_csv(tmp_path / "confused_pairs.csv", keep_default_na=False)
    matrix = pd.read_csv(tmp_path / "confusion_matrix.csv", index_col=0)
    assert pairs["count"].is_monotonic_decreasing
    for _, pair in pairs.iterrows():
        assert matrix.loc[pair["true_label"], pair["predicted_label"]] == pair["count"]
    assert pairs["count"].sum() == matrix.to_numpy().sum() - np.trace(matrix.to_numpy())
    assert pairs["example_1"].str.startswith("text number").all()


def test_reliability_table_and_expected_calibration_error():
    from textclf.evaluation.calibration import reliability

    assert reliability([0.9] * 10, [True] * 9 + [False])["ece"] == pytest.approx(0.0)
    table = reliability([0.9] * 10 + [0.6] * 10, [True] * 5 + [False] * 5 + [True] * 6 + [False] * 4, bins=10)
    assert table["ece"] == pytest.approx((10 * 0.4 + 10 * 0.0) / 20)
    filled = [b for b in table["bins"] if b["count"]]
    assert [(b["lower"], b["count"], b["accuracy"]) for b in filled] == [(pytest.approx(0.5), 10, 0.6),
                                                                         (pytest.approx(0.8), 10, 0.5)]
    assert reliability([], [])["ece"] is None


def test_calibration_figures_go_into_the_metrics(tmp_path):
    metrics, y_true, y_pred, confidence = synthetic_run(tmp_path)
    table = json.loads((tmp_path / "calibration.json").read_text())
    report = json.loads((tmp_path / "classification_report.json").read_text())
    assert metrics["expected_calibration_error"] == report["expected_calibration_error"] == table["ece"] > 0
    assert table["predictions"] == 60
    assert (tmp_path / "reliability_diagram.png").stat().st_size > 1000


def test_the_old_call_still_writes_its_reports_and_a_page(tmp_path):
    from textclf.evaluation.reports import write_reports
    from textclf.tasks.single_label import SingleLabel

    metrics = write_reports(tmp_path, SingleLabel(["a", "b"]), [0, 1, 1], [0, 0, 1], evaluated_on="x")
    assert metrics["accuracy"] == pytest.approx(2 / 3) and "expected_calibration_error" not in metrics
    names = {p.name for p in tmp_path.iterdir()}
    assert {"confusion_matrix.csv", "classification_report.json", "report.html", "confused_pairs.csv"} <= names
    assert "errors.csv" not in names and "calibration.json" not in names


class _References(HTMLParser):
    """Collects every attribute that can load something (src, href, ...) and CSS url(...)."""

    def __init__(self):
        super().__init__()
        self.references, self.csp = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("http-equiv", "").lower() == "content-security-policy":
            self.csp = attrs.get("content")
        for name in ("src", "href", "srcset", "data", "action", "poster", "background"):
            if attrs.get(name):
                self.references.append(attrs[name])
        self.references.extend(re.findall(r"url\(([^)]*)\)", attrs.get("style", "")))

    def handle_data(self, data):
        self.references.extend(re.findall(r"url\(([^)]*)\)", data))


def assert_self_contained(path):
    text = path.read_text(encoding="utf-8")
    parser = _References()
    parser.feed(text)
    external = [r for r in parser.references if not (r.startswith("#") or r.startswith("data:"))]
    assert not external, external[:5]
    assert parser.csp and "default-src 'none'" in parser.csp
    outside_images = re.sub(r'src="data:[^"]*"', "", text)  # base64 may spell anything
    assert not re.search(r"https?:|//[a-z]", outside_images, flags=re.IGNORECASE)  # the fixtures hold no URL
    assert "<script" not in text.lower()


def test_the_page_holds_no_external_url(tmp_path):
    synthetic_run(tmp_path)
    assert_self_contained(tmp_path / "report.html")
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()


def test_train_writes_the_page_with_curves_calibration_and_data(trained_model_dir):
    reports = trained_model_dir / "reports"
    page = (reports / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2  # training curves and reliability diagram
    summary = json.loads((reports / "data_summary.json").read_text())
    assert summary["training"]["length"]["unit"] == "tokens" and "token_coverage" in summary["training"]["coverage"]
    metadata = json.loads((trained_model_dir / "metadata.json").read_text())
    assert metadata["fitted"]["metrics"]["expected_calibration_error"] >= 0
    assert (reports / "errors.csv").is_file()
    assert_self_contained(reports / "report.html")


@pytest.fixture(scope="module")
def evaluated(trained_model_dir, tmp_path_factory):
    """`textclf evaluate` of the shared model on rows where every fourth label is wrong on purpose."""
    from textclf.cli import main

    root = tmp_path_factory.mktemp("evaluated")
    rows = [(text, LABELS[(LABELS.index(label) + 1) % 3] if i % 4 == 0 else label)
            for i, (text, label) in enumerate(make_texts(40, seed=5))]
    data = write_csv(root / "test.csv", rows)
    assert main(["evaluate", "--input", str(data), "--model", str(trained_model_dir), "--output", str(root / "reports"),
                 "-q"]) == 0
    return root / "reports"


def test_evaluate_writes_the_error_analysis_and_the_page(evaluated):
    errors = pd.read_csv(evaluated / "errors.csv")
    matrix = pd.read_csv(evaluated / "confusion_matrix.csv", index_col=0).to_numpy()
    assert len(errors) == matrix.sum() - np.trace(matrix) >= 10
    assert errors["confidence"].is_monotonic_decreasing
    page = (evaluated / "report.html").read_text(encoding="utf-8")
    assert page.count('<div class="card">') == min(10, len(errors))
    assert page.count("<span title=") > 20  # highlighted tokens of the wrong examples
    summary = json.loads((evaluated / "data_summary.json").read_text())
    assert summary["evaluated"]["rows"] == 40 and summary["evaluated"]["length"]["unit"] == "words"
    assert_self_contained(evaluated / "report.html")


def test_evaluate_replaces_its_own_earlier_reports(evaluated, trained_model_dir, tmp_path):
    from textclf.cli import main

    data = write_csv(tmp_path / "test.csv", make_texts(9, seed=8))
    target = tmp_path / "reports"
    shutil.copytree(evaluated, target)
    assert main(["evaluate", "--input", str(data), "--model", str(trained_model_dir), "--output", str(target), "-q"]) == 0
    assert json.loads((target / "data_summary.json").read_text())["evaluated"]["rows"] == 9


def _section_rows(page_html, anchor):
    """The table rows (cells as HTML text) of the page's section `anchor`."""
    section = re.search(rf'<section id="{anchor}">(.*?)</section>', page_html, re.S).group(1)
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", section, re.S)]


def test_compare_shows_runs_side_by_side(trained_model_dir, evaluated, tmp_path, capsys):
    """Two real runs that differ in one option: compare lists that option with each run's value, not the shared ones."""
    import textclf
    from textclf.cli import main

    other = tmp_path / "other"
    textclf.train(str(trained_model_dir.parent / "train.csv"), output=str(other), **{**FAST_OPTIONS, "units": 12})
    output = tmp_path / "compare.html"
    assert main(["compare", str(trained_model_dir), str(other), str(evaluated), "--output", str(output)]) == 0
    page = output.read_text(encoding="utf-8")
    rows = _section_rows(page, "config")
    assert rows[0][1:] == [str(trained_model_dir), str(other), str(evaluated)]
    settings = {row[0]: row[1:] for row in rows[1:]}
    units = [key for key in settings if key.endswith(".units")]
    assert units and all(settings[key][:2] == ["8", "12"] for key in units), settings
    for same in ("epochs", "batch_size", "head", "embedding_mode", "train", "seed"):
        assert not [key for key in settings if key.endswith("." + same)], (same, sorted(settings))
    assert "&Delta;" in page and "macro F1" in page
    assert_self_contained(output)
    assert main(["compare", str(tmp_path), "--output", str(tmp_path / "x.html")]) == 2
    assert "is not a textclf model directory" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


# ---- real browser ---------------------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--hide-scrollbars")


@pytest.fixture(scope="session")
def chromium():
    """A headless Chromium; installs the Debian package `chromium` when missing and running as root."""
    found = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    if found:
        return found
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("Chromium is not installed and cannot be installed here (needs root and apt-get); "
                    "install the Debian package `chromium` to run this test")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200)
        if result.returncode != 0:
            pytest.skip(f"installing the Debian package chromium failed: {' '.join(command)}: "
                        f"{result.stderr.strip()[-300:]}")
    return shutil.which("chromium")


def render(chromium, page, screenshot, tmp_path):
    """Loads `page` in headless Chromium, writes a screenshot; returns the console messages it logged."""
    profile = tmp_path / f"profile-{screenshot.stem}"
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={screenshot}", "--window-size=1280,3000",
         page.resolve().as_uri()],
        capture_output=True, text=True, timeout=180,
    )
    assert screenshot.is_file(), result.stderr[-2000:]
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


def test_console_errors_are_detected(chromium, tmp_path):
    # A page that loads an external image and runs a script: both break its policy and must show up.
    page = tmp_path / "bad.html"
    from textclf.evaluation.report_html import page as make_page

    page.write_text(make_page("bad", "", [("x", "x", '<img src="http://example.invalid/x.png">'
                                                     "<script>console.error('boom')</script>")]))
    messages = render(chromium, page, tmp_path / "bad.png", tmp_path)
    assert any("example.invalid" in m for m in messages) and any("script" in m for m in messages), messages


def test_pages_render_in_chromium_without_console_errors(chromium, evaluated, trained_model_dir, tmp_path):
    from PIL import Image

    from textclf.evaluation.compare import write_comparison

    compare = tmp_path / "compare.html"
    write_comparison([trained_model_dir, evaluated], compare)
    for page in (evaluated / "report.html", compare):
        screenshot = tmp_path / f"{page.stem}.png"
        assert render(chromium, page, screenshot, tmp_path) == []
        pixels = np.asarray(Image.open(screenshot).convert("L"))
        assert pixels.shape == (3000, 1280) and pixels.std() > 10  # something was drawn, not a blank page
