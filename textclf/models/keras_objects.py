"""The custom objects saved models hold, and their registration.

Saved models are built from built-in Keras layers where one does the job; the
exceptions are textclf's own layers and model class (`textclf.models.layers`,
`textclf.models.text_model`) and the GloVe `standardize` function of the
`TextVectorization` layer of models saved before those layers existed. Keras
stores each by registered name (`textclf>GloveStandardize`,
`textclf>glove_standardize`...), so they load with `safe_mode=True`: no code
is serialized, only names and configs.

`import textclf` must make `keras.saving.load_model` work, yet must not import
TensorFlow (that takes seconds, and `textclf --help` must answer at once).
So registration happens right away if Keras is already imported, and
otherwise by a one-shot import hook that fires when Keras finishes importing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

from textclf.text.tokenize import KERAS_PACKAGE, STANDARDIZE_NAME, glove_standardize

PACKAGE = KERAS_PACKAGE
_registered = False


def register_keras_objects():
    """Registers textclf's serializable function, layers and model class with Keras. Idempotent.

    Returns:
        The registered standardize function (what model code should pass to
        `TextVectorization(standardize=...)`).
    """
    global _registered
    import keras

    if not _registered:
        keras.saving.register_keras_serializable(package=PACKAGE, name=STANDARDIZE_NAME)(
            glove_standardize
        )
        # Importing these modules registers their classes (decorators).
        import textclf.models.layers  # noqa: F401
        import textclf.models.text_model  # noqa: F401

        _registered = True
    return glove_standardize


class _RegisterAfterKerasImport(importlib.abc.MetaPathFinder):
    """Wraps the loader of the top-level `keras` module to register afterwards."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)  # one shot; also avoids finding ourselves
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            register_keras_objects()

        spec.loader.exec_module = exec_then_register
        return spec


def install_registration_hook():
    """Registers now if Keras is loaded, else as soon as it is imported."""
    if "keras" in sys.modules:
        register_keras_objects()
    elif not any(isinstance(f, _RegisterAfterKerasImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterKerasImport())
