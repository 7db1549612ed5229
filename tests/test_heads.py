"""Every registered head: builds, trains, respects frozen weights, round-trips."""

import numpy as np
import pytest

from conftest import make_texts, predict_with_plain_keras
from textclf.models import HEADS


def _data():
    from textclf.text.pipeline import vectorize
    from textclf.text.vocabulary import build_vocabulary, count_tokens

    rows = make_texts(48, seed=3)
    texts, labels = [t for t, _ in rows], [y for _, y in rows]
    vocabulary = build_vocabulary(count_tokens(texts).counts, 200)
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels])
    return texts, y, vocabulary, vectorize(texts, vocabulary, 12)


@pytest.mark.parametrize("trainable", [False, True], ids=["frozen", "trainable"])
@pytest.mark.parametrize("head", sorted(HEADS))
def test_head_trains_and_round_trips(head, trainable, tmp_path):
    import keras

    from textclf.embeddings import build_embedding_matrix
    from textclf.models.build import EMBEDDING_NAME, build_classifier, build_end_to_end
    from textclf.text.pipeline import training_dataset

    keras.utils.set_random_seed(0)
    texts, y, vocabulary, ids = _data()
    matrix = build_embedding_matrix("glove-6b-50d", vocabulary, seed=0).matrix
    model = build_classifier(embedding_matrix=matrix, num_classes=3, head=head, units=8, layers=2,
                             pooling="maxmean", trainable_embeddings=trainable)
    before = model.get_layer(EMBEDDING_NAME).get_weights()[0].copy()
    others_before = [w.copy() for w in model.get_weights()[1:]]
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    ds = training_dataset(ids, y, batch_size=16, max_length=12, shuffle=True, seed=0)
    model.fit(ds, epochs=1, verbose=0)
    after = model.get_layer(EMBEDDING_NAME).get_weights()[0]
    if trainable:
        assert not np.allclose(before, after), "trainable embeddings did not move"
    else:
        np.testing.assert_array_equal(before, after)
    assert any(not np.allclose(a, b) for a, b in zip(others_before, model.get_weights()[1:]))
    np.testing.assert_array_equal(after[0], 0) if not trainable else None

    end_to_end = build_end_to_end(model, vocabulary, 12)
    path = tmp_path / "model.keras"
    end_to_end.save(path)
    probe = texts[:5] + ["An unseen text about a dog and a cat!", "x"]
    import tensorflow as tf

    here = end_to_end.predict(tf.constant(probe), verbose=0)
    there = predict_with_plain_keras(path, probe)
    np.testing.assert_allclose(here, there, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("head,pooling", [(head, pooling) for head in sorted(HEADS) for pooling in HEADS[head].poolings])
def test_padding_does_not_change_predictions(head, pooling):
    """Right padding is masked: a text's probabilities do not depend on its batch.

    Padded lengths include the pooled feature sizes (8, 16, 24, 48 here): with
    one row, Keras' TensorFlow `add` once applied the padding penalty along the
    feature axis when the two lengths matched.
    """
    import tensorflow as tf

    from textclf.embeddings import build_embedding_matrix
    from textclf.models.build import build_classifier

    texts, y, vocabulary, ids = _data()
    matrix = build_embedding_matrix("glove-6b-50d", vocabulary, seed=0).matrix
    model = build_classifier(embedding_matrix=matrix, num_classes=3, head=head, units=8, pooling=pooling,
                             dropout=0.0, embedding_dropout=0.0)
    one = ids[:1].to_tensor()
    length = one.shape[1]
    expected = model(one).numpy()
    for padded_length in sorted({length + 7, 8, 16, 24, 48} - set(range(length + 1))):
        padded = tf.pad(one, [[0, 0], [0, padded_length - length]])
        np.testing.assert_allclose(model(padded).numpy(), expected, rtol=1e-5, atol=1e-6,
                                   err_msg=f"padded to {padded_length} tokens")
    other = ids[1:2].to_tensor()
    two = tf.concat([tf.pad(one, [[0, 0], [0, 48 - length]]), tf.pad(other, [[0, 0], [0, 48 - other.shape[1]]])], axis=0)
    np.testing.assert_allclose(model(two).numpy()[0], expected[0], rtol=1e-5, atol=1e-6)


def test_cnn_refuses_last_pooling():
    from textclf.errors import ConfigError
    from textclf.models.build import build_classifier

    from textclf.config import TrainConfig

    message = r"pooling must be one of \('max', 'mean', 'maxmean'\) with head='cnn'.*Received: pooling='last'"
    with pytest.raises(ConfigError, match=message):
        build_classifier(embedding_matrix=np.zeros((10, 4), np.float32), num_classes=2, head="cnn", pooling="last")
    with pytest.raises(ConfigError, match=message):
        TrainConfig(train="t.csv", head="cnn", pooling="last").validate()
