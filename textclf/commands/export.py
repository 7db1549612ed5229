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

HELP = "export a TensorFlow SavedModel that takes raw strings"


def add_arguments(parser):
    parser.add_argument("--model", required=True, metavar="DIR", help="model directory written by `textclf train`")
    parser.add_argument("--saved-model", required=True, metavar="DIR", help="SavedModel directory to write (replaced only if it is textclf's own earlier output)")


def run(args):
    from textclf.classifier import TextClassifier
    from textclf.export import export_saved_model, module_outputs

    from textclf.outputs import check_replaceable

    check_replaceable(args.saved_model, "saved_model")  # before loading: never replaces the user's files
    classifier = TextClassifier.load(args.model)
    export_saved_model(classifier, args.saved_model)
    labels = ", ".join(str(c) for c in classifier.classes_)
    outputs = ", ".join(module_outputs(classifier))
    print(f"SavedModel: {args.saved_model} (signature 'serve': strings -> {outputs}; labels {labels})")
    return 0
