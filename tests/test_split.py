"""The validation split: duplicates and sub-phrases stay on the side of their documents."""

import random

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from textclf.errors import InputDataError
from textclf.data.overlap import find_overlap
from textclf.data.split import split_validation

from conftest import FAST_OPTIONS, make_texts, write_csv


def words_inside(inner, outer):
    inner, outer = inner.lower().split(), outer.lower().split()
    return any(outer[i:i + len(inner)] == inner for i in range(len(outer) - len(inner) + 1))


def phrase_corpus(n_sentences=60, seed=0):
    """An SST-like table: each sentence, then several of its sub-phrases, with labels."""
    rng = random.Random(seed)
    vocabulary = [f"w{i}" for i in range(400)]
    rows = []
    for s in range(n_sentences):
        label = "pos" if s % 2 else "neg"
        sentence = rng.sample(vocabulary, rng.randint(6, 14))
        rows.append((" ".join(sentence), label))
        for _ in range(5):
            start = rng.randrange(len(sentence) - 1)
            stop = rng.randint(start + 1, len(sentence))
            rows.append((" ".join(sentence[start:stop]), label))
    rows.append(("the common phrase", "pos"))  # inside two sentences, one per side or not
    rows.append(("w1 the common phrase w2", "pos"))
    rows.append(("w3 the common phrase w4", "neg"))
    order = list(range(len(rows)))
    rng.shuffle(order)  # documents and phrases interleaved, as a real file would be
    return [rows[i][0] for i in order], [rows[i][1] for i in order]


def test_find_overlap_duplicates_and_phrases():
    texts = ["A good film .", "good film", "a GOOD film .", "bad", "not a good film . really", "unrelated text here"]
    overlap = find_overlap(texts)
    assert overlap.text_ids.tolist() == [0, 1, 0, 2, 3, 4]  # case-insensitive duplicates share an id
    assert overlap.first_rows.tolist() == [0, 1, 3, 4, 5]
    assert overlap.documents.tolist() == [2, 3, 4]  # "bad", the long sentence, the unrelated text
    assert overlap.roots == ((3,), (3,), (2,), (3,), (4,))
    assert overlap.document_rows.tolist() == [3, 4, 5]
    assert overlap.overlapping_rows == 3  # the duplicate and the two texts inside the long sentence


def test_find_overlap_matches_whole_words_only():
    overlap = find_overlap(["cat", "concatenate the cat", "dog", "hotdog stand"])
    assert overlap.roots == ((1,), (1,), (2,), (3,))  # "cat" is inside, "dog" is not (part of a word)


def test_find_overlap_brute_force_agrees():
    texts, _ = phrase_corpus(n_sentences=25, seed=3)
    overlap = find_overlap(texts)
    distinct = [texts[row] for row in overlap.first_rows]
    for i, text in enumerate(distinct):
        containers = [j for j, other in enumerate(distinct) if j != i and words_inside(text, other)]
        expected = tuple(j for j in containers if not any(
            k != j and words_inside(distinct[j], other) for k, other in enumerate(distinct)))
        assert overlap.roots[i] == (expected or (i,)), text


def test_split_without_overlap_is_the_plain_stratified_split():
    rows = make_texts(200, seed=5)
    texts = [f"{t} number {i}" for i, (t, _) in enumerate(rows)]  # every text distinct, none inside another
    labels = [label for _, label in rows]
    split = split_validation(texts, labels, 0.2, 7, "train.csv")
    train_idx, val_idx = train_test_split(np.arange(200), test_size=40, stratify=labels, random_state=7)
    assert split.validation_rows.tolist() == sorted(val_idx)
    assert split.train_rows.tolist() == sorted(train_idx)
    assert split.overlapping_rows == 0
    assert split.describe(0.2, "train.csv") == "stratified 0.2 split of train.csv"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_keeps_phrases_with_their_sentences(seed):
    texts, labels = phrase_corpus(seed=seed)
    split = split_validation(texts, labels, 0.25, seed, "train.csv")
    assert sorted(split.train_rows.tolist() + split.validation_rows.tolist()) == list(range(len(texts)))
    train_texts = [texts[i] for i in split.train_rows]
    val_texts = [texts[i] for i in split.validation_rows]
    # No validation text is inside, or equal to, a training text: it would have been seen in training.
    for text in val_texts:
        assert not any(words_inside(text, other) for other in train_texts), text
    # A phrase inside validation sentences only is in validation; one inside a training sentence is in training.
    overlap = find_overlap(texts)
    documents = set(overlap.document_rows.tolist())
    val_documents = [texts[i] for i in split.validation_rows if i in documents]
    train_documents = [texts[i] for i in split.train_rows if i in documents]
    assert 0.15 < len(val_documents) / len(documents) < 0.35
    for i in range(len(texts)):
        in_val_doc = any(words_inside(texts[i], d) for d in val_documents)
        in_train_doc = any(words_inside(texts[i], d) for d in train_documents)
        assert (i in split.validation_rows) == (in_val_doc and not in_train_doc), texts[i]
    assert "grouped by document" in split.describe(0.25, "train.csv")


def test_split_is_stratified_over_documents():
    texts, labels = phrase_corpus(n_sentences=80, seed=4)
    split = split_validation(texts, labels, 0.25, 0, "train.csv")
    overlap = find_overlap(texts)
    val_docs = [labels[i] for i in overlap.document_rows if i in set(split.validation_rows.tolist())]
    assert val_docs.count("pos") == pytest.approx(val_docs.count("neg"), abs=1)


def test_split_errors_name_the_problem():
    with pytest.raises(InputDataError, match=r"class 'b' has a single example"):
        split_validation(["x y", "y z", "z w"], ["a", "a", "b"], 0.5, 0, "t.csv")
    # Two rows of class "b", but the same text: one document, which cannot be on both sides.
    with pytest.raises(InputDataError, match=r"^t\.csv: class 'b' has 2 rows but a single distinct text"):
        split_validation(["x y", "y z", "same", "same"], ["a", "a", "b", "b"], 0.5, 0, "t.csv")
    # Class "n" occurs only as phrases inside documents of other classes.
    with pytest.raises(InputDataError, match=r"class 'n' has 2 rows but no document of its own \(every one lies "
                                             r"inside another row\); .*--validation-split-by rows"):
        split_validation(["a b c", "d e f", "g h i", "j k l", "b c", "e f"], ["p", "q", "p", "q", "n", "n"], 0.5,
                         0, "t.csv")
    with pytest.raises(InputDataError, match=r"^t\.csv: too few distinct texts \(4 documents in 5 rows\)"):
        split_validation(["x y", "y z", "same", "v w", "same"], ["a", "a", "b", "b", "b"], 0.9, 0, "t.csv")


@pytest.fixture(scope="module")
def long_phrase_corpus(tmp_path_factory):
    texts, labels = phrase_corpus(n_sentences=40, seed=6)
    # Long documents among many short phrases: the phrases alone would give max_length 16.
    sentences = set(find_overlap(texts).document_rows.tolist())
    texts = [" ".join([t] * 4) if i in sentences else t for i, t in enumerate(texts)]  # phrases stay inside
    return texts, labels, write_csv(tmp_path_factory.mktemp("phrases") / "train.csv", list(zip(texts, labels)))


def test_training_by_documents_holds_out_scores_and_sizes_on_them(tmp_path, long_phrase_corpus):
    import textclf
    from textclf.text.vocabulary import choose_max_length

    texts, labels, path = long_phrase_corpus
    options = {**FAST_OPTIONS, "max_length": None, "epochs": 1}  # the default: --validation-split-by documents
    clf = textclf.train(path, output=str(tmp_path / "m"), **options)
    overlap = find_overlap(texts)
    assert clf.metadata["fitted"]["split"]["description"].startswith(f"stratified 0.1 split of {path}, grouped by document: ")
    split = split_validation(texts, labels, 0.1, 42, path)
    assert clf.metadata["fitted"]["split"]["validation_rows"] == len(split.validation_rows)
    documents = [texts[i] for i in overlap.document_rows if i in set(split.train_rows.tolist())]
    # The n-gram mixing weight is chosen on the validation documents, not on their phrases.
    val_documents = np.isin(split.validation_rows, overlap.document_rows).sum()
    assert 0 < clf.metadata["fitted"]["ngram"]["validation_rows_scored"] == val_documents < len(split.validation_rows)
    expected = choose_max_length([len(t.split()) for t in documents])
    assert clf.metadata["fitted"]["max_length"] == expected > choose_max_length([len(t.split()) for t in texts])


def test_training_by_rows_splits_rows_but_scores_and_sizes_on_unseen_documents(tmp_path, long_phrase_corpus):
    import textclf
    from textclf.text.vocabulary import choose_max_length

    texts, labels, path = long_phrase_corpus
    options = {**FAST_OPTIONS, "max_length": None, "epochs": 1, "validation_split_by": "rows"}
    clf = textclf.train(path, output=str(tmp_path / "m"), **options)
    assert clf.metadata["fitted"]["split"]["description"] == f"stratified 0.1 split of {path}"
    train_idx, val_idx = train_test_split(np.arange(len(texts)), test_size=round(0.1 * len(texts)),
                                          stratify=labels, random_state=42)
    assert clf.metadata["fitted"]["split"]["validation_rows"] == len(val_idx)  # the split itself is over rows
    document_rows = set(find_overlap(texts).document_rows.tolist())
    train_texts = {texts[i].lower() for i in train_idx}
    unseen = [i for i in val_idx if i in document_rows and texts[i].lower() not in train_texts]
    assert 0 < clf.metadata["fitted"]["ngram"]["validation_rows_scored"] == len(unseen) < len(val_idx)
    document_lengths = [len(texts[i].split()) for i in train_idx if i in document_rows]
    all_lengths = [len(texts[i].split()) for i in train_idx]
    assert clf.metadata["fitted"]["max_length"] == choose_max_length(document_lengths) > choose_max_length(all_lengths)


def test_unseen_documents_leave_out_phrases_and_copies_of_training_rows():
    from textclf.data.split import unseen_documents

    texts = ["a good film", "good film", "A GOOD FILM", "a bad film", "bad", "new text here", "new text here"]
    overlap = find_overlap(texts)
    # Validation rows: a copy of a training row, a phrase of a training row, a document whose phrase is in
    # training, and both copies of a text absent from training (the first is the document row).
    scored = unseen_documents(overlap, train_rows=[0, 4], validation_rows=[2, 1, 3, 5, 6])
    assert scored.tolist() == [False, False, True, True, False]
    # Nothing qualifies (validation only repeats or lies inside training rows): every row is scored.
    assert unseen_documents(overlap, train_rows=[0, 3], validation_rows=[1, 2, 4]).tolist() == [True] * 3


def test_split_over_rows_ignores_overlap():
    from textclf.data.overlap import no_overlap

    texts, labels = phrase_corpus(seed=8)
    split = split_validation(texts, labels, 0.2, 3, "train.csv", overlap=no_overlap(len(texts)))
    _, val_idx = train_test_split(np.arange(len(texts)), test_size=round(0.2 * len(texts)), stratify=labels,
                                  random_state=3)
    assert split.validation_rows.tolist() == sorted(val_idx)
    assert split.describe(0.2, "train.csv") == "stratified 0.2 split of train.csv"
    with pytest.raises(InputDataError, match=r"^t\.csv: too few rows \(4\) for a validation split over 2 classes"):
        split_validation(["a", "b", "c", "d"], ["x", "x", "y", "y"], 0.9, 0, "t.csv", overlap=no_overlap(4))


def test_the_default_length_is_the_95th_percentile_of_documents_capped_for_long_ones():
    from types import SimpleNamespace

    from textclf.config import TrainConfig
    from textclf.training.prepare import choose_length
    from textclf.text.vocabulary import MAX_LENGTH_CAP, choose_max_length

    assert choose_max_length(list(range(1, 101))) == 96  # 95.05, rounded up to a multiple of 8
    assert choose_max_length([3] * 50) == 16
    lines = []
    split = SimpleNamespace(train_rows=np.arange(100), document_rows=np.arange(100))
    config = TrainConfig(train="x.csv")
    assert choose_length(config, list(range(1000, 1100)), split, lines.append) == (
        MAX_LENGTH_CAP, f"95th percentile of training document lengths, capped at {MAX_LENGTH_CAP}")
    assert lines == [f"max_length: {MAX_LENGTH_CAP} (95th percentile of training document lengths, capped at "
                     f"{MAX_LENGTH_CAP}, median 1049)"]
    assert choose_length(config, list(range(1, 101)), split, lines.append)[1] == (
        "95th percentile of training document lengths")
    assert choose_length(TrainConfig(train="x.csv", max_length=500), [5], split, lines.append) == (500, "--max-length")
