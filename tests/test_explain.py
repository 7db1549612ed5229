"""Token contributions (`textclf.inference.explain`, `TextClassifier.explain`, `textclf explain`)."""

import csv

import numpy as np
import pytest

from conftest import TOPIC_WORDS, make_texts, write_csv


def test_joined_tokens_tokenize_back_to_the_same_tokens_with_any_token_left_out():
    from textclf.inference.explain import join_tokens
    from textclf.text.tokenize import tokenize

    texts = ["I don't think it's what we'd've wanted, e.g. 3.5 or 1,000... 'quoted' dogs' toys!",
             "They're here; you'll see I'm right.", "it 's a do n't situation", "Hello\u2019s world -- ok?"]
    for tokens in tokenize(texts):
        variants = [tokens[:i] + tokens[i + 1:] for i in range(len(tokens))]
        # A clitic cannot start a text: the tokenizer splits a leading 're into ' re (the one known difference).
        variants = [v for v in variants if not (v and v[0] in ("'re", "'s", "'ll", "'m", "'d", "'ve"))]
        assert tokenize([join_tokens(v) for v in variants]) == [v or ["[UNK]"] for v in variants]
        assert tokenize([join_tokens(tokens)]) == [tokens]


@pytest.fixture(scope="module")
def classifier(trained_model_dir):
    import textclf

    return textclf.load(trained_model_dir)


def test_scores_are_the_probability_drop_of_the_predicted_class_when_a_token_is_left_out(classifier):
    texts = ["I like the cheese today", "my dog and the tennis ball", "a"]
    explanations = classifier.explain(texts)
    probabilities = classifier.predict_proba(texts)
    for text, explanation, p in zip(texts, explanations, probabilities):
        target = int(np.argmax(p))
        assert explanation.label == classifier.classes_[target]
        assert explanation.probability == pytest.approx(float(p[target]), abs=1e-6)
        assert len(explanation.scores) == len(explanation.tokens) == len(text.split())
        tokens = explanation.tokens
        without = [" ".join(tokens[:i] + tokens[i + 1:]) for i in range(len(tokens))]
        expected = p[target] - classifier.predict_proba(without, validate=False)[:, target]
        np.testing.assert_allclose(explanation.scores, expected, atol=1e-5)


def test_long_texts_are_occluded_in_runs_of_tokens(classifier):
    text = "the dog and my cat like the cheese and bread"  # 10 tokens, at most 4 variants: runs of 3
    (explanation,) = classifier.explain([text], max_spans=4)
    scores, tokens = explanation.scores, explanation.tokens
    assert len(scores) == 10 and all(scores[i] == scores[i - i % 3] for i in range(10))
    runs = [" ".join(tokens[:i] + tokens[i + 3:]) for i in range(0, 10, 3)]
    p = classifier.predict_proba([text] + runs)
    target = int(np.argmax(p[0]))
    np.testing.assert_allclose(scores[::3], p[0, target] - p[1:, target], atol=1e-5)
    (exact,) = classifier.explain([text], max_spans=10)
    np.testing.assert_allclose(exact.scores, classifier.explain([text])[0].scores)


def test_the_topic_word_explains_the_prediction(classifier):
    rows = make_texts(30, seed=7)
    explanations = classifier.explain([text for text, _ in rows])
    hits = 0
    for explanation in explanations:
        strongest = explanation.tokens[explanation.top(1)[0]]
        hits += strongest in TOPIC_WORDS[explanation.label]
    assert hits >= 27, [(e.tokens, e.scores.round(3).tolist(), e.label) for e in explanations]


def test_explain_a_given_class_instead_of_the_predicted_one(classifier):
    from textclf.inference.explain import explain

    probabilities = classifier.predict_proba(["the cheese and the cake"])
    other = int(np.argmin(probabilities[0]))
    (explanation,) = explain(classifier, ["the cheese and the cake"], targets=[other])
    assert explanation.label == classifier.classes_[other]
    assert explanation.probability == pytest.approx(float(probabilities[0, other]), abs=1e-6)
    with pytest.raises(ValueError, match="one class index per text"):
        explain(classifier, ["a", "b"], targets=[0])


def test_cli_prints_token_tab_score_lines_off_a_terminal(trained_model_dir, capsys):
    from textclf.cli import main

    assert main(["explain", "--model", str(trained_model_dir), "I like cheese", "golf is fun"]) == 0
    blocks = capsys.readouterr().out.strip("\n").split("\n\n")
    assert len(blocks) == 2
    first = [line.split("\t") for line in blocks[0].splitlines()]
    assert [token for token, _ in first] == ["i", "like", "cheese"]
    assert all(np.isfinite(float(score)) for _, score in first)


def test_cli_shades_tokens_with_ansi_colours(trained_model_dir, capsys):
    from textclf.cli import main

    assert main(["explain", "--model", str(trained_model_dir), "--format", "color", "I like the cheese"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("food (") and "\x1b[30;48;5;" in out and "cheese\x1b[0m" in out


def test_cli_explains_every_row_of_a_file_into_csv(trained_model_dir, tmp_path, capsys):
    from textclf.cli import main

    rows = make_texts(7, seed=3)
    source = write_csv(tmp_path / "in.csv", rows)
    output = tmp_path / "out.csv"
    assert main(["explain", "--model", str(trained_model_dir), "--input", str(source), "--output", str(output)]) == 0
    with open(output, newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    assert list(records[0]) == ["row", "predicted_label", "confidence", "position", "token", "score"]
    from textclf.text.tokenize import tokenize

    assert [r["token"] for r in records] == [t for tokens in tokenize([text for text, _ in rows]) for t in tokens]
    assert sorted({int(r["row"]) for r in records}) == list(range(7))


@pytest.mark.parametrize("extra", [[], ["some text", "--input", "x.csv"]])
def test_cli_wants_texts_or_an_input_file(trained_model_dir, extra, capsys):
    from textclf.cli import main

    assert main(["explain", "--model", str(trained_model_dir), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("textclf: error: give either TEXT arguments or --input FILE") and err.count("\n") == 1
