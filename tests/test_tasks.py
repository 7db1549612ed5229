"""The task object: one decision rule for predict, evaluate and the SavedModel; the saved block; a new kind is one class."""

import json

import numpy as np
import pytest

from textclf.errors import ConfigError
from textclf.tasks import REGISTRY, Task, from_config, from_metadata, register
from textclf.tasks.multi_label import MultiLabel
from textclf.tasks.single_label import SingleLabel

PROBABILITIES = np.array([[0.2, 0.7, 0.1], [0.5, 0.5, 0.45], [0.05, 0.1, 0.3], [0.6, 0.1, 0.55]], dtype=np.float32)


def _served(task, probabilities):
    """The task's serving outputs run in a traced `tf.function`, as the exported graph runs them."""
    import tensorflow as tf

    classes = tf.constant(task.labels)
    serve = tf.function(lambda p: task.serving_outputs(p, classes),
                        input_signature=[tf.TensorSpec([None, len(task.labels)], tf.float32)])
    return {name: value.numpy() for name, value in serve(tf.constant(probabilities)).items()}


def test_single_label_decides_by_argmax_in_eager_and_traced_form():
    task = SingleLabel(["a", "b", "c"])
    decisions = task.decide(PROBABILITIES)
    assert decisions.tolist() == [1, 0, 2, 0]  # a tie takes the first label
    served = _served(task, PROBABILITIES)
    assert [v.decode() for v in served["label"]] == list(task.cells(decisions))
    np.testing.assert_array_equal(served["confidence"], task.confidence(PROBABILITIES, decisions))
    assert task.prediction_columns() == ["predicted_label", "confidence"]
    with pytest.raises(ConfigError, match="multi-label"):
        task.with_overrides(threshold=0.3)


@pytest.mark.parametrize("at_least_one", [False, True])
def test_multi_label_thresholds_in_eager_and_traced_form(at_least_one):
    task = MultiLabel(["a", "b", "c"], separator="+", thresholds={"a": 0.5, "b": 0.45, "c": 0.55},
                      at_least_one=at_least_one)
    decisions = task.decide(PROBABILITIES)
    expected = (PROBABILITIES.astype(np.float64) >= [0.5, 0.45, 0.55]).astype(np.int8)
    if at_least_one:
        expected[2, 2] = 1  # no label passed: the most probable one
    np.testing.assert_array_equal(decisions, expected)
    served = _served(task, PROBABILITIES)
    np.testing.assert_array_equal(served["decisions"], decisions)
    assert [v.decode() for v in served["labels"]] == list(task.cells(decisions))
    assert task.cells(decisions)[0] == "b" and task.cells(decisions)[3] == "a+c"


def test_overrides_replace_the_stored_decision_state():
    task = MultiLabel(["a", "b", "c"], thresholds={"a": 0.9, "b": 0.9, "c": 0.9})
    assert task.decide(PROBABILITIES).sum() == 0
    assert task.with_overrides(threshold=0.0).decide(PROBABILITIES).all()
    forced = task.with_overrides(at_least_one=True).decide(PROBABILITIES)
    assert forced.sum(axis=1).tolist() == [1, 1, 1, 1]
    with pytest.raises(ConfigError, match="between 0 and 1"):
        task.with_overrides(threshold=1.5)


def test_the_task_block_round_trips_and_old_fields_map_onto_it():
    task = MultiLabel(["x", "y"], separator=";", thresholds={"x": 0.3}, at_least_one=True)
    again = from_config(json.loads(json.dumps(task.to_config())), ["x", "y"])
    assert again.to_config() == task.to_config() and again.thresholds.tolist() == [0.3, 0.5]
    # A schema-2 directory written before the task block: its multi-label fields become the task.
    old = {"labels": ["x", "y"], "requested": {"multi_label": True, "label_separator": ";"},
           "fitted": {"thresholds": {"x": 0.3, "y": 0.5}, "at_least_one": True}}
    assert from_metadata(old).to_config() == task.to_config()
    assert from_metadata({"labels": ["x", "y"], "requested": {}}).name == "single_label"


def test_predict_evaluate_and_the_saved_model_decide_alike(trained_model_dir, tmp_path):
    """`decide` is the rule of `predict`, of `evaluate`'s reports and of the exported SavedModel."""
    import pandas as pd
    import tensorflow as tf

    import textclf
    from textclf.evaluation.evaluate import evaluate_file
    from textclf.inference.export import export_saved_model

    classifier = textclf.load(trained_model_dir)
    texts = ["the dog and the cat", "pizza and pasta", "tennis and golf", "a cat eats pizza"]
    probabilities = classifier.predict_proba(texts)
    decided = classifier.task.cells(classifier.task.decide(probabilities))
    assert list(classifier.predict(texts)) == list(decided)
    export_saved_model(classifier, tmp_path / "saved")
    served = tf.saved_model.load(str(tmp_path / "saved")).signatures["serve"](tf.constant(texts))
    assert [v.decode() for v in served["label"].numpy()] == list(decided)
    pd.DataFrame({"text": texts, "label": ["zebra"] * len(texts)}).to_csv(tmp_path / "eval.csv", index=False)
    outcome = evaluate_file(classifier, tmp_path / "eval.csv", tmp_path / "reports")
    errors = pd.read_csv(tmp_path / "reports" / "errors.csv")  # every row: "zebra" is no label of the model
    assert outcome["unseen"] == {"zebra": 4}
    assert dict(zip(errors["text"], errors["predicted_label"])) == dict(zip(texts, decided))


class _Ordinal(SingleLabel):
    """A toy third kind: labels ordered, the decision the median of the distribution."""

    name = "toy_ordinal"

    def decision_ops(self, probabilities):
        import tensorflow as tf

        return tf.argmax(tf.cast(tf.cumsum(probabilities, axis=1) >= 0.5, tf.int32), axis=1)


def test_a_new_kind_of_labels_is_one_registered_class():
    register(_Ordinal)
    try:
        task = from_config({"name": "toy_ordinal"}, ["low", "mid", "high"])
        assert isinstance(task, Task) and task.to_config() == {"name": "toy_ordinal"}
        distributions = np.array([[0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.5, 0.2, 0.3]], dtype=np.float32)
        assert task.decide(distributions).tolist() == [1, 2, 0]
        assert _served(task, distributions)["label"].tolist() == [b"mid", b"high", b"low"]
    finally:
        REGISTRY.pop("toy_ordinal")
