"""Stage 1, prepare: read the tables, split off validation, then vocabulary, max length, embeddings and token ids."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from textclf.errors import InputDataError


@dataclass
class Tables:
    """The labeled tables of a run, as read (`validation` and `test` None when not given)."""

    train: object
    validation: object
    test: object
    labels: list
    task: object = None  # the run's `textclf.tasks.Task` over `labels` (nothing fitted yet)


@dataclass
class Split:
    """The training and validation rows, and the numbers recorded in `metadata.json`.

    Attributes:
        train_rows: Indices of the training rows in the training table.
        document_rows: Indices (in the training table) of the rows that are documents.
        val_documents: Per validation row, whether it is a document unseen in
            training (the rows the n-gram weight is chosen on).
        record: `fitted.split` of the metadata: sizes and grouping as numbers.
    """

    train_texts: list
    train_labels: list
    val_texts: list
    val_labels: list
    train_rows: np.ndarray
    document_rows: np.ndarray
    val_documents: np.ndarray
    record: dict


@dataclass
class Prepared:
    """Everything the fitting stages read: the split, its encodings and the embeddings."""

    labels: list
    split: Split
    y_train: np.ndarray
    y_val: np.ndarray
    vocabulary: list
    max_length: int
    max_length_rule: str
    max_chars: int
    max_chars_rule: str
    embedding: object
    coverage: dict
    ids_train: object
    ids_val: object
    training_tokens: int
    train_lengths: np.ndarray
    sample_weights: object
    label_weights: object = None  # per-label weights of the positives (`Task.label_weights`), or None
    task: object = None  # `textclf.tasks.Task`: label encoding, loss, decision


def read_tables(config, log=lambda message: None):
    """Reads the training, validation and test tables (before any slow import, so bad input fails fast).

    With `config.multi_label` each label cell becomes a tuple of label names
    (`textclf.tasks.multilabel.split_label_cells`); without it, a label column that
    looks like joined label sets is reported in one line (never switched).

    Raises:
        InputDataError: unreadable tables, a single class, empty labels or
            label parts, or validation labels unknown to training.
    """
    from textclf.data.tables import read_labeled
    from textclf.tasks import for_training

    reader = for_training(config, [])  # reads label cells; the labels are known once read

    def read(path):
        if not path:
            return None
        data = read_labeled(path, text_column=config.text_column, label_column=config.label_column,
                            encoding=config.encoding)
        return dataclasses.replace(data, labels=reader.parse_cells(data.labels, file=data.path,
                                                                   column=config.label_column))

    train = read(config.train)
    reader.check_format(train.labels, file=config.train, separator=config.label_separator, log=log)
    labels = sorted(set(reader.names(train.labels)))
    if len(labels) < 2:
        raise InputDataError(
            f"all rows have the same label {labels[0]!r}; a classifier needs at least 2 classes",
            file=config.train, column=config.label_column,
        )
    validation = read(config.validation)
    unknown = sorted(set(reader.names(validation.labels)) - set(labels)) if validation is not None else []
    if unknown:
        raise InputDataError(
            f"validation label {unknown[0]!r} does not occur in the training data", file=config.validation,
            column=config.label_column,
        )
    return Tables(train=train, validation=validation, test=read(config.test), labels=labels,
                  task=for_training(config, labels))


def split_tables(config, tables, log):
    """The training/validation `Split`: the validation file, or a stratified split of the training table.

    Found whatever the split: the choices that describe predictions (default
    max length, n-gram weight) are made on documents, which is what
    predictions see. The split itself groups by document unless asked for
    rows: on held-out SST-2 sentences it scored as well as the row split,
    validated honestly and trained in half the time (RESULTS.md).
    """
    from textclf.data.overlap import find_overlap, no_overlap
    from textclf.data.split import split_validation, unseen_documents

    texts, labels = tables.train.texts, tables.train.labels
    overlap = find_overlap(texts)
    record = {"train_rows": None, "validation_rows": None,
              "test_rows": None if tables.test is None else len(tables.test.texts)}
    if tables.validation is not None:
        train_rows = np.arange(len(texts))
        val_texts, val_labels = tables.validation.texts, tables.validation.labels
        val_documents = np.ones(len(val_texts), dtype=bool)
        record.update(validation_file=config.validation, grouped_rows=0, description=config.validation)
    else:
        by_documents = config.validation_split_by == "documents"
        strata = tables.task.strata(labels)
        split = split_validation(texts, strata, config.validation_split, config.seed, config.train,
                                 overlap=overlap if by_documents else no_overlap(len(texts)))
        if split.overlapping_rows:
            log(f"validation split: {split.overlapping_rows} of {len(texts)} rows repeat or lie inside "
                f"another row; each goes to the side of the documents containing it")
        train_rows = split.train_rows
        val_texts = [texts[i] for i in split.validation_rows]
        val_labels = [labels[i] for i in split.validation_rows]
        val_documents = unseen_documents(overlap, train_rows, split.validation_rows)
        record.update(fraction=config.validation_split, by=config.validation_split_by,
                      grouped_rows=int(split.overlapping_rows), documents=int(split.documents),
                      description=split.describe(config.validation_split, config.train))
    record.update(train_rows=len(train_rows), validation_rows=len(val_texts),
                  validation_documents=int(np.sum(val_documents)))
    return Split(
        train_texts=[texts[i] for i in train_rows], train_labels=[labels[i] for i in train_rows],
        val_texts=list(val_texts), val_labels=list(val_labels), train_rows=np.asarray(train_rows),
        document_rows=np.asarray(overlap.document_rows), val_documents=val_documents, record=record,
    )


def choose_length(config, lengths, split, log):
    """`(max_length, rule)`: `--max-length`, else the 95th percentile of the training documents' lengths,
    at most `MAX_LENGTH_CAP`.

    By documents, their lengths only: phrase rows and repeats would shorten it
    below what predictions see.
    """
    from textclf.text.vocabulary import MAX_LENGTH_CAP, choose_max_length

    if config.max_length is not None:
        return config.max_length, "--max-length"
    document_lengths = np.asarray(lengths)[np.isin(split.train_rows, split.document_rows)]
    if not len(document_lengths):  # a row split can leave training only copies of validation's documents
        document_lengths = np.asarray(lengths)
    uncapped = choose_max_length(document_lengths, upper=math.inf)
    max_length = min(uncapped, MAX_LENGTH_CAP)
    rule = "95th percentile of training document lengths"
    if uncapped > MAX_LENGTH_CAP:
        rule += f", capped at {MAX_LENGTH_CAP}"
    log(f"max_length: {max_length} ({rule}, median {int(np.median(document_lengths))})")
    return max_length, rule


def cut_tables(tables, max_chars, log):
    """`tables` with the training and validation texts cut to `max_chars` characters, as the saved model cuts them.

    The test table is left whole: it is scored by the saved model, which cuts it the same way.
    """
    from textclf.text.vocabulary import cut_texts

    cut = {}
    for name in ("train", "validation"):
        data = getattr(tables, name)
        if data is not None:
            texts, cut[data.path] = cut_texts(data.texts, max_chars)
            tables = dataclasses.replace(tables, **{name: dataclasses.replace(data, texts=texts)})
    for path, count in cut.items():
        if count:
            log(f"{path}: {count} text{'s' if count > 1 else ''} longer than {max_chars:,} characters cut to "
                f"{'their' if count > 1 else 'its'} first {max_chars:,} (the model reads no more)")
    return tables


def prepare(config, tables, log):
    """Stage 1: from the tables to everything the fitting stages read.

    Args:
        config: The validated `TrainConfig`.
        tables: `read_tables(config)`.
        log: Progress lines.

    Returns:
        A `Prepared`.
    """
    from textclf.embeddings import build_embedding_matrix
    from textclf.text.pipeline import vectorize
    from textclf.text.vocabulary import build_vocabulary, choose_max_chars, count_tokens, coverage

    max_chars, chars_rule = choose_max_chars(config.max_length)
    tables = cut_tables(tables, max_chars, log)  # before any copy of a text: tokens, n-grams, ids
    split = split_tables(config, tables, log)
    stats = count_tokens(split.train_texts)
    vocabulary = build_vocabulary(stats.counts, config.max_tokens)
    max_length, rule = choose_length(config, stats.lengths, split, log)
    embedding = build_embedding_matrix(
        config.embeddings, vocabulary, oov=config.oov, seed=config.seed, expected_dim=config.embedding_dim
    )
    cover = coverage(stats.counts, vocabulary, embedding.found)
    log(f"embeddings: {embedding.source} ({embedding.dim}-d); vocabulary {len(vocabulary)} entries; "
        f"coverage {cover['token_coverage']:.1%} of tokens, {cover['type_coverage']:.1%} of types")
    task = tables.task
    y_train, y_val = task.encode(split.train_labels), task.encode(split.val_labels)
    return Prepared(
        labels=tables.labels, split=split, y_train=y_train, y_val=y_val,
        vocabulary=vocabulary, max_length=max_length, max_length_rule=rule,
        max_chars=max_chars, max_chars_rule=chars_rule, embedding=embedding, coverage=cover,
        ids_train=vectorize(split.train_texts, vocabulary, max_length),
        ids_val=vectorize(split.val_texts, vocabulary, max_length),
        training_tokens=int(np.minimum(stats.lengths, max_length).sum()),
        train_lengths=np.asarray(stats.lengths),
        sample_weights=task.sample_weights(y_train, config.class_weight),
        label_weights=task.label_weights(y_train, config.class_weight), task=task,
    )
