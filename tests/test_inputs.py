"""The library checks the texts it is given: one clear error at the door, never per-character predictions."""

import numpy as np
import pandas as pd
import pytest

import textclf
from conftest import FAST_OPTIONS, write_csv
from textclf.data.inputs import check_texts

TEXTS = ["my dog likes cheese", "we play tennis today", "a cat and a horse"]


@pytest.fixture(scope="module")
def classifier(trained_model_dir):
    return textclf.load(trained_model_dir)


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
@pytest.mark.parametrize("single", ["a single string", b"some bytes"], ids=["str", "bytes"])
def test_a_single_string_is_refused_with_a_type_error(classifier, method, single):
    with pytest.raises(TypeError, match=r"texts must be a list of strings, not a single (str|bytes); .*\[text\]") as info:
        getattr(classifier, method)(single)
    assert isinstance(info.value, textclf.TextclfError) and isinstance(info.value, textclf.InputTypeError)


@pytest.mark.parametrize("method", ["predict", "predict_proba"])
@pytest.mark.parametrize("bad, shown", [
    (None, r"None \(a missing text\), of type NoneType"),
    (7, r"7, of type int"),
    (b"bytes", r"b'bytes', of type bytes"),
    (float("nan"), r"nan \(a missing text\), of type float"),
])
def test_a_non_string_item_is_named_by_its_position(classifier, method, bad, shown):
    with pytest.raises(textclf.InputDataError, match=r"^texts\[1\] is " + shown + "; every item must be a string"):
        getattr(classifier, method)(["fine", bad, "also fine"])


def test_missing_text_in_a_pandas_series_is_named(classifier):
    texts = pd.Series(["fine", "also fine", None, "more"])
    with pytest.raises(ValueError, match=r"texts\[2\] is (None|nan) \(a missing text\)"):
        classifier.predict(texts)


def test_not_iterable_is_a_type_error():
    with pytest.raises(textclf.InputTypeError, match="Received: an object of type int"):
        check_texts(42)


@pytest.mark.parametrize("container", [
    tuple,
    lambda t: np.array(t),
    lambda t: np.array(t, dtype=object),
    pd.Series,
    lambda t: pd.array(t, dtype="string"),
    lambda t: pd.DataFrame({"text": t})["text"].values,
    lambda t: (text for text in t),
], ids=["tuple", "numpy-str", "numpy-object", "pandas-series", "pandas-string-array", "dataframe-values", "generator"])
def test_sequences_of_strings_keep_working(classifier, container):
    expected = classifier.predict_proba(list(TEXTS))
    np.testing.assert_array_equal(classifier.predict_proba(container(TEXTS)), expected)
    assert list(classifier.predict(container(TEXTS))) == list(classifier.classes_[expected.argmax(axis=1)])


def test_empty_list_predicts_nothing(classifier):
    assert classifier.predict_proba([]).shape == (0, len(classifier.classes_))


def test_library_train_raises_the_error_the_cli_prints(tmp_path, capsys):
    from textclf.cli import main

    train = write_csv(tmp_path / "train.csv", [("a dog", "x"), ("", "y"), ("a cat", "x")])
    with pytest.raises(textclf.InputDataError) as info:
        textclf.train(str(train), output=str(tmp_path / "model"), **FAST_OPTIONS)
    options = [f"--{key.replace('_', '-')}={value}" for key, value in FAST_OPTIONS.items()]
    assert main(["train", "--input", str(train), "--output", str(tmp_path / "model"), *options]) == 2
    assert capsys.readouterr().err == f"textclf: error: {info.value}\n"
    assert "row 3, column 'text'" in str(info.value)
