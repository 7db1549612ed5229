"""Train a classifier on a labeled CSV/TSV/Parquet file and save it with its reports."""

from __future__ import annotations

import argparse

from textclf.commands import options
from textclf.commands.options import AUTO, auto
from textclf.config import (
    CLASS_WEIGHTS, DEFAULT_EMBEDDINGS, DISTRIBUTE_MODES, EMBEDDING_MODES, ENSEMBLE_COMBINES, MEMBER_STARTS,
    OOV_POLICIES, SPLIT_BY, STOP_ON, TrainConfig,
)
from textclf.models.ensemble import AUTO_MAX_TOKENS, AUTO_MEMBERS, MEMBER_UNITS, SINGLE_UNITS
from textclf.models.heads import HEADS, POOLINGS
from textclf.models.wide import WEIGHTINGS, WIDE_CHOICES
from textclf.training.batch import BATCH_SIZE, LARGE_BATCH_SIZE, LARGE_LEARNING_RATE, LEARNING_RATE

HELP = "train a classifier and save model.keras, metadata.json and reports/"

_DEFAULTS = TrainConfig(train="")


def _heads(value):
    """`--head`: one registered head, or several joined by commas (`TrainConfig.validate` checks them)."""
    from textclf.errors import ConfigError
    from textclf.models.heads import head_names

    try:
        head_names(value)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return value


def add_arguments(parser):
    """Adds the `train` options (defaults come from `TrainConfig`)."""
    _data_arguments(parser.add_argument_group("data"))
    _embedding_arguments(parser.add_argument_group("embeddings"))
    _model_arguments(parser.add_argument_group("model"))
    _fit_arguments(parser.add_argument_group("training"))
    _output_arguments(parser.add_argument_group("output"))


def _data_arguments(data):
    d = _DEFAULTS
    options.add_input(data, dest="train", required=True, old="--train",
                      help="training table: .csv/.tsv (optionally .gz) or .parquet")
    data.add_argument("--test", metavar="FILE",
                      help="held-out table for the final reports (default: the reports are on the validation split)")
    data.add_argument("--validation", metavar="FILE",
                      help="validation table (default: a split of --input by --validation-split)")
    data.add_argument("--validation-split", type=float, default=d.validation_split, metavar="F",
                      help="share of --input held out for validation when no --validation is given")
    data.add_argument("--validation-split-by", choices=SPLIT_BY, default=d.validation_split_by,
                      help="'documents': rows that repeat or lie inside another row (phrase-annotated corpora such "
                           "as SST) stay with the documents containing them; 'rows': a plain stratified split. "
                           "Either way the n-gram weight and default max length are chosen on documents")
    options.add_columns(data, text_default=d.text_column, label_default=d.label_column)
    data.add_argument("--multi-label", action="store_true",
                      help="several labels per text, joined by --label-separator in the label column: one sigmoid "
                           "output per label, decision thresholds chosen per label on validation")
    data.add_argument("--label-separator", default=d.label_separator, metavar="SEP",
                      help="what joins the labels of one text with --multi-label")
    data.add_argument("--at-least-one", action=argparse.BooleanOptionalAction, default=d.at_least_one,
                      help="with --multi-label: a text for which no label passes its threshold gets its most "
                           "probable label (recorded in metadata.json; `textclf predict` may override it)")
    data.add_argument("--encoding", default=d.encoding, help="text encoding of CSV/TSV files (e.g. latin-1)")


def _embedding_arguments(emb):
    d = _DEFAULTS
    emb.add_argument("--embeddings", default=DEFAULT_EMBEDDINGS, metavar="NAME_OR_PATH",
                     help="bundled 'glove-6b-50d', or a GloVe .txt(.gz), word2vec .bin/.txt, fastText .vec or gensim .kv file")
    emb.add_argument("--embedding-dim", type=int, metavar="N",
                     help="fail unless the embeddings have this dimension (default: read from the file)")
    emb.add_argument("--embedding-mode", choices=EMBEDDING_MODES, default=d.embedding_mode,
                     help="frozen, finetune, or two-phase: frozen until validation stops improving, then fine-tuned")
    emb.add_argument("--oov", choices=OOV_POLICIES, default=d.oov,
                     help="vectors of words missing from the embeddings: small random vectors or zeros")


def _model_arguments(model):
    d = _DEFAULTS
    model.add_argument("--head", type=_heads, default=d.head, metavar="HEAD[,HEAD...]",
                       help="; ".join(f"{n}: {s.description}" for n, s in sorted(HEADS.items()))
                            + ". Several, joined by commas: ensemble members take them in turn "
                              "(a single model is the first)")
    model.add_argument("--units", type=auto(int), default=_auto(d.units), metavar="N",
                       help=f"units per recurrent layer and direction (cnn: filters per width); auto: "
                            f"{SINGLE_UNITS} for one model, {MEMBER_UNITS} for each of several averaged")
    model.add_argument("--layers", type=int, default=d.layers, metavar="N", help="stacked recurrent layers")
    model.add_argument("--dropout", type=float, default=d.dropout, metavar="F",
                       help="dropout between layers and before the output")
    model.add_argument("--embedding-dropout", type=float, default=d.embedding_dropout, metavar="F",
                       help="spatial dropout on the embedded tokens")
    model.add_argument("--pooling", choices=POOLINGS, default=d.pooling,
                       help="last state, or max / mean / both over all time steps")
    model.add_argument("--max-tokens", type=int, default=d.max_tokens, metavar="N",
                       help="vocabulary size (most frequent tokens)")
    model.add_argument("--wide", choices=WIDE_CHOICES, default=d.wide,
                       help="n-gram logistic-regression branch averaged with the recurrent model "
                            "(weight chosen on validation); none: recurrent model only")
    model.add_argument("--wide-max-tokens", type=int, default=d.wide_max_tokens, metavar="N",
                       help="n-gram vocabulary size of the wide branch")
    model.add_argument("--wide-weighting", choices=WEIGHTINGS, default=d.wide_weighting,
                       help="n-gram features of the wide branch: present n-grams weighted by inverse document "
                            "frequency (idf), by naive-Bayes log-count ratio (nb), or binary; auto: idf or nb, "
                            "whichever has the lower validation log loss (nb only with two classes)")
    model.add_argument("--ensemble", type=auto(int), default=_auto(d.ensemble), metavar="N",
                       help=f"models averaged, each with its own seed (and head, when --head names several); auto: "
                            f"{AUTO_MEMBERS} when the training rows hold at most {AUTO_MAX_TOKENS:,} tokens, else 1")
    model.add_argument("--member-start", choices=MEMBER_STARTS, default=d.member_start,
                       help="ensemble members 2..N: each trains both phases from its own initialization (scratch), "
                            "or fine-tunes from member 1's weights after its frozen phase (frozen; with "
                            "--embedding-mode two-phase and one head; about half the training time)")
    model.add_argument("--ensemble-combine", choices=ENSEMBLE_COMBINES, default=d.ensemble_combine,
                       help="how members make one model: their probabilities averaged (each member computed at "
                            "prediction), or their weights averaged into one model as fast as a single member "
                            "(needs --member-start frozen: members fine-tuned from the same weights)")
    model.add_argument("--max-length", type=auto(int), default=_auto(d.max_length), metavar="N",
                       help="tokens kept per text; auto: the 95th percentile of training document lengths, "
                            "at most 200 (printed)")


def _fit_arguments(fit):
    d = _DEFAULTS
    fit.add_argument("--epochs", type=int, default=d.epochs, metavar="N", help="most epochs per phase")
    fit.add_argument("--batch-size", type=auto(int), default=_auto(d.batch_size), metavar="N",
                     help=f"rows per step (global under --distribute); auto: {BATCH_SIZE}, or {LARGE_BATCH_SIZE} "
                          f"when the training rows hold more than {AUTO_MAX_TOKENS:,} tokens")
    fit.add_argument("--learning-rate", type=auto(float), default=_auto(d.learning_rate), metavar="F",
                     help=f"Adam's learning rate; auto: {LEARNING_RATE:g}, or {LARGE_LEARNING_RATE:g} with the "
                          f"larger batches")
    fit.add_argument("--finetune-learning-rate", type=auto(float), default=_auto(d.finetune_learning_rate),
                     metavar="F", help="learning rate of the fine-tuning phase; auto: the learning rate / 4")
    fit.add_argument("--patience", type=int, default=d.patience, metavar="N",
                     help="epochs without validation-loss improvement before stopping (best weights kept)")
    fit.add_argument("--min-delta", type=float, default=d.min_delta, metavar="D",
                     help="smallest fall of the validation loss that counts as an improvement for --patience, "
                          "so that a converged run stops (with --multi-label: of the loss summed over the labels)")
    fit.add_argument("--stop-on", choices=STOP_ON, default=d.stop_on,
                     help="the validation log loss that early stopping follows: the recurrent model's own, or the "
                          "saved model's (mixed: the recurrent model mixed with the n-gram branch at the weight best "
                          "for that epoch; stops once the mix stops improving, on long documents after fewer "
                          "epochs); --wide none always follows the recurrent loss")
    fit.add_argument("--class-weight", choices=CLASS_WEIGHTS, default=d.class_weight,
                     help="balanced: each class weighted inversely to its frequency (multi-label: each label's "
                          "positives by its negatives/positives ratio)")
    fit.add_argument("--seed", type=int, default=d.seed, metavar="N",
                     help="seed of the validation split, and of weights, dropout and batch order (ensemble members: "
                          "seed, seed + 1, ...)")
    fit.add_argument("--member-seed", type=auto(int), default=_auto(d.member_seed), metavar="N",
                     help="seed of the first ensemble member's weights, dropout and batch order (the others: N + 1, "
                          "...) while the validation split keeps --seed: new members on the same split; auto: --seed")
    fit.add_argument("--distribute", choices=DISTRIBUTE_MODES, default=d.distribute,
                     help="data-parallel training: 'mirrored' over local GPUs, 'multi-worker' across hosts as "
                          "described by the TF_CONFIG environment variable (run the same command on every worker; "
                          "only the chief writes --output); --batch-size is then the global batch")


def _output_arguments(out):
    options.add_output(out, metavar="DIR", help="model directory (default: models/<name>)")
    out.add_argument("--name", help="name for the default output directory (default: from the training file)")
    options.add_quiet(out, help="no progress bars")
    out.add_argument("--resume", action="store_true",
                     help="continue an interrupted run from its last completed epoch (checkpoints are kept in "
                          ".<output-name>.partial/ beside the output until the model is saved)")


def _auto(default):
    """How help shows a None default: `auto`, which the option's type turns back into None."""
    return AUTO if default is None else default


def config_from_args(args):
    """A `TrainConfig` from parsed arguments."""
    from textclf.config import config_fields

    return TrainConfig(**{name: getattr(args, name) for name in config_fields() if hasattr(args, name)})


def run(args):
    """Trains, prints where the model is and its metrics; returns 0."""
    from textclf.runtime.progress import keras_verbose
    from textclf.training import run_training

    config = config_from_args(args)
    classifier = run_training(config, keras_verbose=keras_verbose(args.quiet), resume=getattr(args, "resume", False))
    fitted = classifier.metadata["fitted"]
    if not fitted["distribute"]["is_chief"]:
        print(f"worker {fitted['distribute']['task_type']}:{fitted['distribute']['task_index']}: done "
              "(the chief writes the model)")
        return 0
    metrics = fitted["metrics"]
    from textclf.evaluation.reports import metrics_line
    from textclf.runtime.terminal import visible

    print(visible(f"model: {config.output}/model.keras (metadata.json beside it)"))
    print(visible(f"reports: {config.output}/reports/"))
    print(visible(metrics_line(metrics)))
    return 0

