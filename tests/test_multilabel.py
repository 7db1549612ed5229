"""Several labels per text: parsing label cells, thresholds, metrics."""

import numpy as np
import pytest

from textclf.errors import ConfigError, InputDataError
from textclf.tasks.multilabel import (choose_thresholds, indicator_matrix, join_labels, looks_joined, multilabel_metrics,
                                positive_weights, split_label_cells)
from textclf.tasks.multi_label import MultiLabel


def apply_thresholds(probabilities, threshold, at_least_one=False):
    """The multi-label decision rule (`MultiLabel.decide`) with `threshold` (one, or one per label)."""
    labels = [str(i) for i in range(np.shape(probabilities)[1])]
    thresholds = dict(zip(labels, np.broadcast_to(threshold, len(labels)).tolist()))
    return MultiLabel(labels, thresholds=thresholds, at_least_one=at_least_one).decide(probabilities)


def test_cells_split_into_label_sets_in_first_seen_order():
    assert split_label_cells(["joy|surprise", " anger ", "joy|joy"]) == [("joy", "surprise"), ("anger",), ("joy",)]
    assert split_label_cells(["a;b"], separator=";") == [("a", "b")]


@pytest.mark.parametrize("cell, message", [("", "label is empty"), ("  ", "label is empty"),
                                           ("a||b", "empty label between separators"),
                                           ("a|", "empty label between separators")])
def test_empty_cells_and_parts_name_file_row_and_column(cell, message):
    with pytest.raises(InputDataError, match=rf"train.csv, row 3, column 'labels': {message}") as info:
        split_label_cells(["ok", cell], file="train.csv", column="labels")
    assert (info.value.row, info.value.column) == (3, "labels")


def test_separator_must_be_a_non_empty_string():
    with pytest.raises(ConfigError, match="Received: ''"):
        split_label_cells(["a"], separator="")


def test_joined_cells_are_noticed_only_when_common():
    assert looks_joined(["a|b", "a", "b|c", "c", "a|c"] * 4)
    assert not looks_joined(["a", "b", "c"] * 100 + ["a|b"])
    assert not looks_joined(["x|y"] * 2)  # too few cells to tell


def test_indicator_matrix_and_join_round_trip_in_label_order():
    labels = ["anger", "joy", "surprise"]
    matrix = indicator_matrix([("surprise", "joy"), ("anger",), ("unseen",)], labels)
    assert matrix.tolist() == [[0, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert join_labels(matrix, labels) == ["joy|surprise", "anger", ""]


def test_thresholds_maximize_each_labels_f1_and_rare_labels_keep_half():
    rng = np.random.default_rng(0)
    y = np.zeros((200, 3), dtype=int)
    y[:50, 0] = 1  # label 0: positives score about 0.3, negatives about 0.1
    y[:2, 2] = 1   # label 2: two positives only
    probabilities = np.where(y == 1, 0.3, 0.1) + rng.uniform(-0.02, 0.02, y.shape)
    thresholds = choose_thresholds(y, probabilities)
    assert 0.12 <= thresholds[0] <= 0.28
    assert thresholds[2] == 0.5 and thresholds[1] == 0.5
    assert (apply_thresholds(probabilities, thresholds)[:, 0] == y[:, 0]).all()


def test_at_least_one_takes_the_most_probable_label_when_none_passes():
    probabilities = np.array([[0.2, 0.4, 0.1], [0.9, 0.1, 0.7]])
    assert apply_thresholds(probabilities, 0.5).tolist() == [[0, 0, 0], [1, 0, 1]]
    assert apply_thresholds(probabilities, 0.5, at_least_one=True).tolist() == [[0, 1, 0], [1, 0, 1]]


def test_positive_weights_balance_each_label():
    y = np.array([[1, 0], [0, 0], [0, 0], [0, 0]])
    assert positive_weights(y).tolist() == [3.0, 1.0]


def test_metrics_match_hand_counts():
    y_true = np.array([[1, 0], [0, 1], [1, 1]])
    y_pred = np.array([[1, 0], [0, 0], [1, 1]])
    metrics = multilabel_metrics(y_true, y_pred, ["a", "b"])
    assert metrics["subset_accuracy"] == pytest.approx(2 / 3)
    assert metrics["hamming_loss"] == pytest.approx(1 / 6)
    assert metrics["micro_f1"] == pytest.approx(2 * 3 / (2 * 3 + 1))


def _stopped_after(losses, min_delta, patience=2):
    """The epoch at which early stopping (`textclf.training.stopping.update`) stops on `losses`, or None."""
    from textclf.training.state import StoppingState
    from textclf.training.stopping import update

    state = StoppingState()
    for epoch, loss in enumerate(losses, start=1):
        update(state, loss, epoch=epoch, patience=patience, min_delta=min_delta)
        if state.stopped:
            return epoch
    return None


def test_min_delta_counts_per_label_on_multi_label_data_only():
    from textclf.tasks.single_label import SingleLabel

    # Single-label: --min-delta as given, whatever the number of classes.
    for classes in (2, 6, 20):
        assert SingleLabel([f"c{i}" for i in range(classes)]).min_improvement(1e-3) == 1e-3
    goemotions = MultiLabel([f"emotion{i}" for i in range(28)])
    assert goemotions.min_improvement(1e-3) == pytest.approx(1e-3 / 28)
    # GoEmotions' mixed validation loss in member 1's frozen phase (a mean over 28 labels, issue 36): taken as
    # given, 0.001 stopped the phase at epoch 3 while the loss still fell every epoch.
    losses = [0.0968, 0.0965, 0.0961, 0.0958, 0.0956, 0.0953, 0.0951, 0.0951, 0.0948, 0.0947, 0.0947, 0.0946]
    assert _stopped_after(losses, 1e-3) == 3
    assert _stopped_after(losses, goemotions.min_improvement(1e-3)) is None  # still learning
    assert _stopped_after(losses + [0.0946, 0.0946], goemotions.min_improvement(1e-3)) == 14  # converged: stops
