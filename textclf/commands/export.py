"""Export a model as a TensorFlow SavedModel taking raw strings (no textclf or Keras needed to serve it).

Signature `serve`: input `text`, a 1-D tf.string tensor; outputs
`probabilities` (float32 [batch, classes], columns in label order), `label`
(tf.string [batch]) and `confidence` (float32 [batch]); a multi-label model's
`probabilities` (one per label), `decisions` (int8 [batch, labels], the
thresholds of metadata.json applied) and `labels` (tf.string [batch], joined by
its separator). Load it with
`tf.saved_model.load(DIR).signatures["serve"](tf.constant([...]))`.
"""

from __future__ import annotations

from textclf.commands import options

HELP = "export a TensorFlow SavedModel that takes raw strings"


def add_arguments(parser):
    options.add_model(parser)
    options.add_output(parser, dest="saved_model", metavar="DIR", required=True, old="--saved-model",
                       help="SavedModel directory to write (replaced only if it is textclf's own earlier output)")


def outputs(args):
    """The SavedModel directory, claimed before the model is loaded (`textclf.artifacts.outputs`)."""
    return [(args.saved_model, "saved_model", ())]


def run(args):
    from textclf.inference.classifier import TextClassifier
    from textclf.inference.export import export_saved_model, module_outputs
    from textclf.runtime.terminal import visible

    classifier = TextClassifier.load(args.model)
    export_saved_model(classifier, args.saved_model)
    labels = ", ".join(str(c) for c in classifier.classes_)
    outputs = ", ".join(module_outputs(classifier))
    print(visible(f"SavedModel: {args.saved_model} (signature 'serve': strings -> {outputs}; labels {labels})"))
    return 0
