"""Training: read data -> tokenize -> embeddings -> head -> fit -> save -> report.

`train()` is the library entry point; `textclf train` is a thin layer over
`run_training()`.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import time
from pathlib import Path

import numpy as np

from textclf.config import TrainConfig
from textclf.errors import InputDataError

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")


def train(train, **options):
    """Trains a classifier and saves it; the library twin of `textclf train`.

    Args:
        train: Path of the training table (CSV/TSV, optionally .gz, or Parquet).
        **options: Any `TrainConfig` field (test, head, epochs, output, ...).

    Returns:
        The trained `TextClassifier` (also saved to its output directory,
        available as `classifier.metadata["output"]`).
    """
    config = TrainConfig(train=os.fspath(train), **options)
    return run_training(config)


def default_output(config):
    """`models/<name>`: `--name`, else the training file's name or folder."""
    if config.name:
        return str(Path("models") / config.name)
    path = Path(config.train)
    stem = path.name.split(".")[0]
    if stem in ("train", "training", "data") and path.absolute().parent.name:
        stem = path.absolute().parent.name
    return str(Path("models") / stem)


def _log(message):
    print(message, file=sys.stderr, flush=True)


def set_determinism(seed):
    """Seeds Python, NumPy and TensorFlow and asks TF for deterministic ops."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def run_training(config, *, log=_log, keras_verbose="auto", resume=False):
    """Runs one training from a validated `TrainConfig`.

    The output is locked against concurrent runs (`textclf.locking`) and a
    checkpoint is written after every epoch (`textclf.checkpoint`) in
    `.<output-name>.partial/`, removed once the model is saved.

    Args:
        config: The configuration.
        log: Where progress lines go (stderr by default).
        keras_verbose: `verbose` of `Model.fit` (progress bars).
        resume: Continue from the checkpoint of an interrupted run, if any.

    Returns:
        The trained `TextClassifier`.
    """
    from textclf.checkpoint import TrainingCheckpoint, fingerprint
    from textclf.errors import ConfigError
    from textclf.locking import OutputLock
    from textclf.outputs import check_output_parent, check_replaceable

    config.validate()
    created = None  # the default output's parent, if this run made it (removed again on failure)
    if config.output is None:
        config.output = default_output(config)
        parent = Path(config.output).absolute().parent
        if not parent.exists():
            parent.mkdir(parents=True)
            created = parent
    check_output_parent(config.output)
    check_replaceable(config.output, "model")  # before training: the user's files are never replaced
    mode = getattr(config, "distribute", "none")
    lock = OutputLock(config.output) if mode != "multi-worker" else None  # workers share --output
    if lock is not None:
        lock.acquire()
    try:
        checkpoint = TrainingCheckpoint(config.output, fingerprint(config)) if mode == "none" else None
        if checkpoint is not None and checkpoint.exists() and not resume:
            raise ConfigError(
                f"{checkpoint.directory}: an interrupted run left its checkpoints here; pass --resume to "
                "continue it, or delete that directory to start over"
            )
        if checkpoint is not None and resume and checkpoint.load() is None:
            log(f"resume: no checkpoint in {checkpoint.directory}; training from the first epoch")
        return _run_training(config, log=log, keras_verbose=keras_verbose, checkpoint=checkpoint)
    except BaseException:
        if created is not None:
            if lock is not None:
                lock.release()
            with contextlib.suppress(OSError):
                created.rmdir()  # only if still empty
        raise
    finally:
        if lock is not None:
            lock.release()


def _run_training(config, *, log, keras_verbose, checkpoint):
    # `run_training` has validated the configuration and settled the output.
    from textclf import data as data_module

    output = Path(config.output)

    # Read everything before the slow imports, so bad input fails fast.
    train_data = data_module.read_labeled(
        config.train, text_column=config.text_column, label_column=config.label_column, encoding=config.encoding
    )
    labels = sorted(set(train_data.labels))
    if len(labels) < 2:
        raise InputDataError(
            f"all rows have the same label {labels[0]!r}; a classifier needs at least 2 classes",
            file=config.train, column=config.label_column,
        )
    test_data = None
    if config.test:
        test_data = data_module.read_labeled(
            config.test, text_column=config.text_column, label_column=config.label_column, encoding=config.encoding
        )
    from textclf.overlap import find_overlap, no_overlap

    # Found whatever the split: the choices that describe predictions (default max length, n-gram weight) are
    # made on documents, which is what predictions see. The split itself groups by document unless asked for
    # rows: on held-out SST-2 sentences it scored as well as the row split, validated honestly and trained in half
    # the time (RESULTS.md).
    by_documents = config.validation_split_by == "documents"
    overlap = find_overlap(train_data.texts)
    if config.validation:
        val_data = data_module.read_labeled(
            config.validation, text_column=config.text_column, label_column=config.label_column,
            encoding=config.encoding,
        )
        train_rows = np.arange(len(train_data.texts))
        val_texts, val_labels = val_data.texts, val_data.labels
        val_documents = np.ones(len(val_texts), dtype=bool)
        validation_source = config.validation
    else:
        from textclf.split import split_validation, unseen_documents

        split = split_validation(
            train_data.texts, train_data.labels, config.validation_split, config.seed, config.train,
            overlap=overlap if by_documents else no_overlap(len(train_data.texts)),
        )
        if split.overlapping_rows:
            log(
                f"validation split: {split.overlapping_rows} of {len(train_data.texts)} rows repeat or lie inside "
                f"another row; each goes to the side of the documents containing it"
            )
        train_rows = split.train_rows
        val_texts = [train_data.texts[i] for i in split.validation_rows]
        val_labels = [train_data.labels[i] for i in split.validation_rows]
        val_documents = unseen_documents(overlap, train_rows, split.validation_rows)
        validation_source = split.describe(config.validation_split, config.train)
    train_texts = [train_data.texts[i] for i in train_rows]
    train_labels = [train_data.labels[i] for i in train_rows]

    started = time.time()
    from textclf import distribute

    distribute.setup(config, log)  # before any TensorFlow op: MultiWorkerMirroredStrategy requires it
    set_determinism(config.seed)
    from textclf.embeddings import build_embedding_matrix
    from textclf.pipeline import vectorize
    from textclf.vocabulary import build_vocabulary, choose_max_length, count_tokens, coverage

    stats = count_tokens(train_texts)
    vocabulary = build_vocabulary(stats.counts, config.max_tokens)
    if config.max_length is None:
        # By documents, their lengths only: phrase rows and repeats would shorten it below what predictions see.
        document_lengths = np.asarray(stats.lengths)[np.isin(train_rows, overlap.document_rows)]
        if not len(document_lengths):  # a row split can leave training only copies of validation's documents
            document_lengths = np.asarray(stats.lengths)
        max_length = choose_max_length(document_lengths)
        log(
            f"max_length: {max_length} (95th percentile of training document lengths, "
            f"median {int(np.median(document_lengths))})"
        )
    else:
        max_length = config.max_length
    embedding = build_embedding_matrix(
        config.embeddings, vocabulary, oov=config.oov, seed=config.seed, expected_dim=config.embedding_dim
    )
    cover = coverage(stats.counts, vocabulary, embedding.found)
    log(
        f"embeddings: {embedding.source} ({embedding.dim}-d); vocabulary {len(vocabulary)} entries; "
        f"coverage {cover['token_coverage']:.1%} of tokens, {cover['type_coverage']:.1%} of types"
    )

    label_index = {label: i for i, label in enumerate(labels)}
    y_train = np.array([label_index[y] for y in train_labels])
    unknown = sorted(set(val_labels) - set(labels))
    if unknown:
        raise InputDataError(
            f"validation label {unknown[0]!r} does not occur in the training data", file=config.validation,
            column=config.label_column,
        )
    y_val = np.array([label_index[y] for y in val_labels])
    ids_train = vectorize(train_texts, vocabulary, max_length)
    ids_val = vectorize(val_texts, vocabulary, max_length)

    from textclf.models.ensemble import member_heads, resolve_members

    training_tokens = int(np.minimum(stats.lengths, max_length).sum())
    members, rule = resolve_members(config.ensemble, training_tokens)
    if members > 1:
        log(f"ensemble: {members} models averaged ({rule}; here {training_tokens:,})")
    classifier, history, phases = fit_ensemble(
        config, members, embedding.matrix, len(labels), ids_train, y_train, ids_val, y_val, max_length, log,
        keras_verbose, checkpoint=checkpoint,
    )

    from textclf.pipeline import predict_in_order
    from textclf.reports import compute_metrics

    val_probabilities = predict_in_order(classifier, ids_val)
    wide, wide_summary = None, {"mode": "none"}
    if config.wide != "none":
        wide, val_probabilities, wide_summary = fit_wide(
            config, train_texts, y_train, val_texts, y_val, len(labels), val_probabilities, log, keras_verbose,
            scored=val_documents,
        )
    train_seconds = time.time() - started
    val_pred = val_probabilities.argmax(axis=1)
    validation_metrics = compute_metrics(y_val, val_pred, list(range(len(labels))))
    from textclf.classifier import SCHEMA_VERSION, TextClassifier
    from textclf.models.build import build_end_to_end
    from textclf.reports import write_reports

    model = build_end_to_end(classifier, vocabulary, max_length, wide=wide)
    metadata = _metadata(
        config, labels, embedding, cover, max_length, len(train_texts), len(val_texts),
        None if test_data is None else len(test_data.texts), validation_source, phases, history, train_seconds,
        SCHEMA_VERSION,
    )
    metadata["distribute"] = distribute.describe(config.distribute, config.batch_size)
    metadata["ensemble"] = {
        "members": members, "rule": rule, "training_tokens": training_tokens,
        "heads": list(member_heads(config.head, members)),
        "seeds": [config.seed + index for index in range(members)],
    }
    metadata["wide"] = wide_summary
    classifier_obj = TextClassifier(model, metadata)
    if test_data is not None:
        # Test metrics come from the saved model's own prediction path (both branches, mixed).
        eval_labels, eval_texts, evaluated_on = test_data.labels, test_data.texts, f"test ({config.test})"
        eval_proba = classifier_obj.predict_proba(test_data.texts)
    else:
        eval_labels, eval_texts, evaluated_on = val_labels, val_texts, f"validation ({validation_source})"
        eval_proba = val_probabilities
    eval_pred = np.asarray(labels, dtype=object)[eval_proba.argmax(axis=1)]
    from textclf.reports import summarize_data

    data_summary = {"training": summarize_data(train_labels, stats.lengths, coverage=cover),
                    "evaluated": summarize_data(eval_labels)}

    with distribute.output_directory(output, config.distribute) as tmp:  # only the chief writes `output`
        metrics = write_reports(
            tmp / "reports", list(eval_labels), list(eval_pred), labels, evaluated_on=evaluated_on, history=history,
            texts=eval_texts, confidence=eval_proba.max(axis=1), metadata=metadata, data_summary=data_summary,
            classifier=classifier_obj,
        )
        metadata["metrics"] = {
            **metrics,
            "validation_accuracy": validation_metrics["accuracy"],
            "validation_macro_f1": validation_metrics["macro_f1"],
        }
        classifier_obj.save(tmp)
    if checkpoint is not None:
        checkpoint.remove()  # the model is saved: the checkpoints are no longer needed
    if distribute.is_chief(config.distribute):
        log(f"saved model to {output}/ (model.keras, metadata.json, reports/)")
    log(
        f"{evaluated_on}: accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f} "
        f"({metrics['rows']} rows); trained in {train_seconds:.0f}s"
    )
    return classifier_obj


def balanced_sample_weights(config, y, num_classes):
    """Per-example weights for `--class-weight balanced`, else None."""
    if config.class_weight != "balanced":
        return None
    from sklearn.utils.class_weight import compute_class_weight

    return compute_class_weight("balanced", classes=np.arange(num_classes), y=y)[y]


def fit_wide(config, train_texts, y_train, val_texts, y_val, num_classes, deep_val, log, verbose, scored=None):
    """Trains the n-gram branch and picks its mixing weight on validation.

    `scored` (bool per validation row, default all) marks the rows the weight
    is chosen on: the documents, when validation also holds their phrases.

    Returns:
        `(wide, val_probabilities, summary)`: `wide` is None when the chosen
        weight is 0 (the branch is then left out of the saved model), else
        `(vectorizer, model, weight)`; `val_probabilities` are the mixed ones.
    """
    from textclf.models.wide import NGRAM_ORDER, choose_weight, fit_ngram_classifier, mix

    vectorizer, model, summary, wide_val = fit_ngram_classifier(
        train_texts, y_train, val_texts, y_val, num_classes=num_classes, order=NGRAM_ORDER[config.wide],
        max_tokens=config.wide_max_tokens, weighting=config.wide_weighting,
        sample_weights=balanced_sample_weights(config, y_train, num_classes), log=log,
    )
    scored = np.ones(len(y_val), dtype=bool) if scored is None else np.asarray(scored, dtype=bool)
    weight, _ = choose_weight(deep_val[scored], wide_val[scored], y_val[scored])
    mixed = mix(deep_val, wide_val, weight)
    accuracy = lambda p: float((p[scored].argmax(axis=1) == y_val[scored]).mean())  # noqa: E731
    summary.update({
        "mode": config.wide, "weight": weight, "validation_rows_scored": int(scored.sum()),
        "validation_accuracy": {"recurrent": accuracy(deep_val), "ngram": accuracy(wide_val), "mixed": accuracy(mixed)},
    })
    over = "" if scored.all() else f" over the {int(scored.sum())} documents"
    log(f"validation accuracy{over}: recurrent {accuracy(deep_val):.4f}, n-gram {accuracy(wide_val):.4f}, "
        f"mixed {accuracy(mixed):.4f} (n-gram weight {weight:g}, chosen on validation log loss)")
    return (None if weight == 0 else (vectorizer, model, weight)), mixed, summary


def fit_ensemble(config, members, matrix, num_classes, ids_train, y_train, ids_val, y_val, max_length, log,
                 verbose, checkpoint=None):
    """Fits `members` classifiers with seeds `config.seed`, `config.seed + 1`, ... and averages them.

    One member is exactly `fit_classifier`. Each later member reseeds every
    generator and keeps its own checkpoints, so an ensemble resumes member by
    member and the same seed gives the same ensemble.

    Returns:
        `(classifier, history, phases)` as `fit_classifier`, the history rows
        and phases of an ensemble marked with their "member" (1-based).
    """
    import dataclasses

    from textclf import distribute
    from textclf.models.build import CLASSIFIER_NAME
    from textclf.models.ensemble import build_ensemble, member_heads, member_name

    trained, history, phases = [], [], []
    heads = member_heads(config.head, members)
    for index in range(members):
        member_config = dataclasses.replace(config, seed=config.seed + index, head=heads[index])
        if index:
            set_determinism(member_config.seed)
        member_log = log if members == 1 else (lambda m, i=index: log(f"member {i + 1}/{members}: {m}"))
        classifier, member_history, member_phases = fit_classifier(
            member_config, matrix, num_classes, ids_train, y_train, ids_val, y_val, max_length, member_log, verbose,
            checkpoint=checkpoint if checkpoint is None or index == 0 else checkpoint.member(index),
            name=CLASSIFIER_NAME if members == 1 else member_name(index),
        )
        trained.append(distribute.local_copy(classifier, config.distribute))  # evaluate and save without collectives
        tag = {} if members == 1 else {"member": index + 1}
        history.extend({**tag, **row} for row in member_history)
        phases.extend({**tag, **phase} for phase in member_phases)
    if members == 1:
        return trained[0], history, phases
    return build_ensemble(trained, CLASSIFIER_NAME), history, phases


def fit_classifier(config, matrix, num_classes, ids_train, y_train, ids_val, y_val, max_length, log, verbose,
                   checkpoint=None, name=None):
    """Builds and fits the token-id classifier, in one or two phases.

    With a `textclf.checkpoint.TrainingCheckpoint`, the state is saved after
    every epoch and, if the checkpoint holds one, training continues from it.

    Returns:
        `(classifier, history, phases)`: the model with its best weights, one
        dict per epoch, and a summary of each phase.
    """
    import keras

    from textclf.models.build import CLASSIFIER_NAME, EMBEDDING_NAME, build_classifier
    from textclf.pipeline import training_dataset

    sample_weights = balanced_sample_weights(config, y_train, num_classes)
    train_ds = training_dataset(
        ids_train, y_train, batch_size=config.batch_size, max_length=max_length, shuffle=True,
        seed=config.seed, sample_weights=sample_weights,
    )
    val_ds = training_dataset(
        ids_val, y_val, batch_size=max(config.batch_size, 256), max_length=max_length, shuffle=False, seed=config.seed
    )
    from textclf import distribute

    train_ds = distribute.prepare_dataset(train_ds, ids_train, batch_size=config.batch_size, max_length=max_length,
                                          mode=config.distribute, log=log, name="training")
    val_ds = distribute.prepare_dataset(val_ds, ids_val, batch_size=max(config.batch_size, 256),
                                        max_length=max_length, mode=config.distribute, log=log, name="validation")
    with distribute.strategy_scope(config.distribute):  # variables mirrored across replicas
        classifier = build_classifier(
            embedding_matrix=matrix,
            num_classes=num_classes,
            head=config.head,
            units=config.units,
            layers=config.layers,
            dropout=config.dropout,
            pooling=config.pooling,
            embedding_dropout=config.embedding_dropout,
            trainable_embeddings=config.embedding_mode == "finetune",
            name=name or CLASSIFIER_NAME,
        )
    plan = [("frozen" if config.embedding_mode != "finetune" else "finetune", config.learning_rate)]
    if config.embedding_mode == "two-phase":
        plan.append(("finetune", config.finetune_learning_rate or config.learning_rate / 4))

    history, phases = [], []
    best_loss, best_weights = np.inf, None
    from textclf.checkpoint import make_callback, restore_variables

    restored = checkpoint.load() if checkpoint is not None else None
    if restored is not None:
        state, arrays = restored
        history, phases, best_weights = list(state["history"]), list(state["phases"]), arrays["phase_best"]
        best_loss = np.inf if state["best_loss"] is None else float(state["best_loss"])
        log(f"resume: continuing after epoch {state['epoch']} from {checkpoint.directory}")
    iterators_made = 0  # of train_ds: a resumed run replays them to get the same shuffles
    for phase_index, (phase, learning_rate) in enumerate(plan):
        if restored is not None and phase_index < state["phase_index"]:
            continue
        resume_here = restored if restored is not None and phase_index == state["phase_index"] else None
        classifier.get_layer(EMBEDDING_NAME).trainable = phase == "finetune"
        with distribute.strategy_scope(config.distribute):
            classifier.compile(
                optimizer=keras.optimizers.Adam(learning_rate=learning_rate, clipnorm=5.0),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
        log(f"phase {len(phases) + 1}/{len(plan)}: embeddings {phase}, learning rate {learning_rate:g}")
        stopper = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True, verbose=0
        )
        start_epoch = initial_epoch = len(history)
        tracker = None
        if checkpoint is not None:
            tracker = make_callback(
                checkpoint, stopper, phase_index=phase_index, phase=phase, phase_start=start_epoch,
                base_state={"history": history, "phases": phases, "best_loss": float(best_loss),
                            "phase_best": best_weights},
                restore=resume_here,
            )
        if resume_here is not None:
            restore_variables(classifier, resume_here[1])
            initial_epoch = resume_here[0]["epoch"]
        if resume_here is not None and (
            resume_here[0]["stop_training"] or initial_epoch >= start_epoch + config.epochs
        ):  # killed after the phase's last epoch: do what EarlyStopping.on_train_end does
            if resume_here[1]["stopper_best"] is not None:
                classifier.set_weights(resume_here[1]["stopper_best"])
        else:
            for _ in range(2 * initial_epoch - iterators_made):
                iter(train_ds)  # each iterator draws the next shuffle order (see textclf.checkpoint)
            iterators_made = max(iterators_made, 2 * initial_epoch)
            distribute.prepare_fit(classifier, val_ds, config.distribute)  # Keras 3 multi-worker workarounds
            result = classifier.fit(
                train_ds, validation_data=val_ds, epochs=start_epoch + config.epochs, initial_epoch=initial_epoch,
                callbacks=[stopper] + ([tracker] if tracker else []), verbose=verbose,
                shuffle=False,  # the dataset shuffles itself
            )
            iterators_made += 2 * len(result.history.get("loss", []))  # Keras makes 2 per epoch
        if tracker is not None:
            rows = tracker.rows
        else:
            rows = []
            for i in range(len(result.history["loss"])):
                row = {"epoch": start_epoch + i + 1, "phase": phase}
                row.update({k: float(result.history[k][i]) for k in HISTORY_KEYS if k in result.history})
                rows.append(row)
        history.extend(rows)
        val_losses = [row["val_loss"] for row in rows]
        epochs = len(rows)
        phase_best = float(np.min(val_losses))
        phases.append({
            "embeddings": phase, "learning_rate": learning_rate, "epochs": epochs,
            "best_val_loss": phase_best,
            "best_epoch": start_epoch + int(np.argmin(val_losses)) + 1,
        })
        # A fine-tuning phase that never beats the frozen phase must not make
        # the model worse: keep the better weights.
        if phase_best < best_loss:
            best_loss, best_weights = phase_best, classifier.get_weights()
        else:
            classifier.set_weights(best_weights)
            phases[-1]["kept"] = False
            log(f"phase {len(phases)} did not improve validation loss; keeping the earlier weights")
    classifier.get_layer(EMBEDDING_NAME).trainable = False
    return classifier, history, phases


def _peak_rss_mb():
    """Peak resident memory of this process so far, in MiB (Linux/macOS), else None."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def _metadata(config, labels, embedding, cover, max_length, n_train, n_val, n_test, validation_source, phases,
              history, seconds, schema_version):
    import keras
    import tensorflow as tf

    from textclf import __version__

    return {
        "schema_version": schema_version,
        "textclf_version": __version__,
        "keras_version": keras.__version__,
        "tensorflow_version": tf.__version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "labels": list(labels),
        "text_column": config.text_column,
        "label_column": config.label_column,
        "config": config.to_dict(),
        "max_length": int(max_length),
        "embeddings": {
            "source": embedding.source,
            "format": embedding.format,
            "dim": int(embedding.dim),
            "mode": config.embedding_mode,
            "oov": config.oov,
            **cover,
        },
        "head": {
            "name": config.head,
            "units": config.units,
            "layers": config.layers,
            "dropout": config.dropout,
            "embedding_dropout": config.embedding_dropout,
            "pooling": config.pooling,
        },
        "data": {
            "train_rows": n_train,
            "validation_rows": n_val,
            "test_rows": n_test,
            "validation": validation_source,
        },
        "training": {
            "seconds": round(seconds, 2),
            "epochs": len(history),
            "phases": phases,
            "peak_rss_mb": _peak_rss_mb(),
        },
    }
