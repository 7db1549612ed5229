"""Fuzzing: random CSV bytes and random texts never crash reading,
tokenization or prediction with anything but a documented `TextclfError`."""

import csv
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textclf.errors import TextclfError

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# Unicode of every kind (control and surrogate-free), emoji, very long tokens.
texts = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=200),
    st.text(st.sampled_from("abc \t\n\r\x00\x0b\x85\u2028\u200b\ufeff😀👍🏽é́,.'\""), max_size=80),
    st.builds(lambda c, n: c * n, st.characters(blacklist_categories=("Cs",)), st.integers(1, 5000)),
)


@pytest.fixture(scope="module")
def classifier(trained_model_dir):
    import textclf

    return textclf.load(trained_model_dir)


@settings(max_examples=150, **SETTINGS)
@given(st.binary(max_size=400))
def test_random_csv_bytes(tmp_path_factory, data):
    from textclf.data.tables import read_labeled

    path = tmp_path_factory.mktemp("bytes") / "f.csv"
    path.write_bytes(b"text,label\n" + data)
    try:
        read = read_labeled(path)
    except TextclfError as exc:
        assert "\n" not in str(exc)
        return
    assert len(read.texts) == len(read.labels) > 0


@settings(max_examples=100, **SETTINGS)
@given(st.lists(st.tuples(texts, texts), min_size=1, max_size=8))
def test_written_csv_roundtrips_or_fails_cleanly(tmp_path_factory, rows):
    from textclf.data.tables import read_labeled

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["text", "label"])
    writer.writerows(rows)
    path = tmp_path_factory.mktemp("rows") / "f.csv"
    path.write_bytes(buf.getvalue().encode("utf-8", "surrogatepass"))
    try:
        read = read_labeled(path)
    except TextclfError as exc:
        assert "\n" not in str(exc)
        return
    # Every readable row gets exactly one record, with its text intact.
    assert len(read.texts) == len(rows)
    assert [t.replace("\r\n", "\n").replace("\r", "\n") for t in read.texts] == \
        [t.replace("\r\n", "\n").replace("\r", "\n") for t, _ in rows]


@settings(max_examples=150, **SETTINGS)
@given(st.lists(texts, min_size=1, max_size=10))
def test_tokenize_never_crashes(batch):
    from textclf.text.tokenize import tokenize

    tokens = tokenize(batch)
    assert len(tokens) == len(batch)
    for row in tokens:
        assert len(row) >= 1 and all(tok and not tok.isspace() for tok in row)


@settings(max_examples=60, **SETTINGS)
@given(st.lists(texts, min_size=1, max_size=12))
def test_predict_proba_one_row_per_text(classifier, batch):
    from textclf.data.inputs import text_problem
    from textclf.errors import InputDataError

    if any(text_problem(text) for text in batch):  # empty, whitespace-only or NUL-bearing: the rule refuses them
        with pytest.raises(InputDataError):
            classifier.predict_proba(batch)
        batch = [text for text in batch if not text_problem(text)] or ["a dog"]
    proba = classifier.predict_proba(batch)
    assert proba.shape == (len(batch), len(classifier.classes_))
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-4)
    assert len(classifier.predict(batch)) == len(batch)
