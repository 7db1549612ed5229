"""textclf: text classification with GloVe embeddings and recurrent heads on Keras 3.

    import textclf
    clf = textclf.train("train.csv", test="test.csv", head="bigru")
    clf = textclf.load("models/train")
    clf.predict(["some text"]), clf.predict_proba(["some text"]), clf.classes_

Importing textclf is cheap (no TensorFlow); it registers the one custom
object saved models need, so `keras.saving.load_model("model.keras")` works
after `import textclf`.
"""

from textclf.version import __version__  # noqa: F401 - the public textclf.__version__

from textclf.errors import (  # noqa: E402
    ConfigError,
    EmbeddingsError,
    InputDataError,
    InputTypeError,
    ModelFileError,
    TextclfError,
)
from textclf.models.keras_objects import install_registration_hook as _install_registration_hook  # noqa: E402

_install_registration_hook()

__all__ = [
    "ConfigError",
    "EmbeddingsError",
    "InputDataError",
    "InputTypeError",
    "ModelFileError",
    "TextClassifier",
    "TextclfError",
    "TrainConfig",
    "load",
    "train",
    "tune",
]


def train(train, **options):
    """Trains and saves a classifier. See `textclf.training.train`."""
    from textclf.training import train as _train

    return _train(train, **options)


def tune(train, **options):
    """Searches `textclf train`'s options within a time budget (`budget="30m"`). See `textclf.tuning.tune`."""
    from textclf.tuning import tune as _tune

    return _tune(train, **options)


def load(directory):
    """Loads a saved model directory as a `TextClassifier`.

    Args:
        directory: A directory written by `textclf train`.

    Returns:
        A `TextClassifier` with `predict`, `predict_proba` and `classes_`.
    """
    from textclf.inference.classifier import TextClassifier

    return TextClassifier.load(directory)


def __getattr__(name):
    # Lazy attributes keep `import textclf` free of TensorFlow.
    if name == "TextClassifier":
        from textclf.inference.classifier import TextClassifier

        return TextClassifier
    if name == "TrainConfig":
        from textclf.config import TrainConfig

        return TrainConfig
    raise AttributeError(f"module 'textclf' has no attribute {name!r}")
