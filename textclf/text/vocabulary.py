"""Vocabulary, sequence length and embedding coverage, from training texts."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np

RESERVED = ("", "[UNK]")  # padding and out-of-vocabulary, as TextVectorization spells them


@dataclass
class TokenStats:
    """Token counts and per-text lengths of a corpus.

    Attributes:
        counts: `Counter` of token -> occurrences.
        lengths: int array, number of tokens of each text.
    """

    counts: Counter
    lengths: np.ndarray


def lookup_table(tokens, first_id, default_id):
    """A `tf.lookup.StaticHashTable` from `tokens` to `first_id, first_id + 1, ...`; others get `default_id`.

    The same ids a `TextVectorization` with that vocabulary gives, for tokens
    already standardized and split.
    """
    import tensorflow as tf

    tokens = list(tokens)
    return tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(tokens, dtype=tf.string),
                                            tf.range(first_id, first_id + len(tokens), dtype=tf.int64)),
        default_value=default_id)


def count_tokens(texts, batch_size=8192):
    """Counts the GloVe tokens of `texts` with the model's own tokenizer.

    Args:
        texts: Sequence of `str`.
        batch_size: Texts tokenized per TensorFlow call.

    Returns:
        A `TokenStats`.
    """
    import tensorflow as tf

    from textclf.text.tokenize import glove_standardize

    counts = Counter()
    lengths = []
    for start in range(0, len(texts), batch_size):
        batch = tf.constant(list(texts[start : start + batch_size]), dtype=tf.string)
        ragged = tf.strings.split(glove_standardize(batch))
        counts.update(ragged.flat_values.numpy().tolist())
        lengths.append(ragged.row_lengths().numpy())
    decoded = Counter({token.decode("utf-8"): n for token, n in counts.items()})
    return TokenStats(counts=decoded, lengths=np.concatenate(lengths) if lengths else np.zeros(0, int))


def build_vocabulary(counts, max_tokens):
    """The `max_tokens` most frequent tokens, reserved entries first.

    Ties are broken alphabetically so the vocabulary is deterministic.

    Args:
        counts: Token -> count mapping.
        max_tokens: Vocabulary size including the 2 reserved entries.

    Returns:
        A list starting with "" and "[UNK]", as `TextVectorization.get_vocabulary()`.
    """
    ranked = sorted((t for t in counts if t not in RESERVED), key=lambda t: (-counts[t], t))
    return list(RESERVED) + ranked[: max(0, max_tokens - len(RESERVED))]


# Long documents (IMDB, 20 Newsgroups) are cut here: the n-gram branch reads them whole, and at 200 the mixed
# model scored within 0.003 of 400 on validation in 0.7-0.75 of the time (benchmarks/RESULTS.md, issue 19).
MAX_LENGTH_CAP = 200


# Characters of a text the model reads: training cuts texts to them (`cut_texts`) before tokenizing, and the saved
# model cuts the same way (`textclf.models.layers.GloveStandardize`). One 5 MB text cell in a 200-row file otherwise
# took training from 1.1 to 4.8 GB, most of it the n-gram ids of every text padded to that one's length. The
# recurrent model reads at most max_length tokens; the n-gram branch reads texts whole, so the cap sits above the
# longest text of the datasets measured (160,616 characters, 20 Newsgroups test): none of them is cut.
MAX_CHARS = 200_000
# Characters per token that `--max-length` is given room for (English averages under 6 with the space).
CHARS_PER_TOKEN = 20


def choose_max_chars(max_length=None):
    """`(max_chars, rule)`: the characters of each text the model reads, `MAX_CHARS` or more for long `max_length`.

    Args:
        max_length: `--max-length` when given (the default is at most `MAX_LENGTH_CAP`).

    Returns:
        An int and the rule that chose it (recorded in the metadata).
    """
    tokens = MAX_LENGTH_CAP if max_length is None else int(max_length)
    if CHARS_PER_TOKEN * tokens > MAX_CHARS:
        return CHARS_PER_TOKEN * tokens, f"{CHARS_PER_TOKEN} per token of --max-length"
    return MAX_CHARS, "the default"


def cut_texts(texts, max_chars):
    """`texts` cut to their first `max_chars` characters (code points, as `tf.strings.substr(unit="UTF8_CHAR")`).

    Args:
        texts: Sequence of `str`.
        max_chars: Characters kept.

    Returns:
        `(texts, cut)`: a list of the texts (the same objects where short enough), and how many were cut.
    """
    cut = sum(len(text) > max_chars for text in texts)
    return ([text[:max_chars] for text in texts] if cut else list(texts)), cut


def choose_max_length(lengths, percentile=95.0, multiple=8, lower=16, upper=MAX_LENGTH_CAP):
    """Default `max_length`: the `percentile` of training lengths, rounded up.

    Long-tailed corpora (IMDB) would otherwise pad every batch to a rare
    maximum; the percentile keeps almost every text whole.

    Args:
        lengths: Token count of each training text.
        percentile: Share of texts that must fit untruncated.
        multiple: Round up to a multiple of this.
        lower: Smallest value returned.
        upper: Largest value returned (bounds CPU training time).

    Returns:
        An int.
    """
    if len(lengths) == 0:
        return lower
    value = float(np.percentile(lengths, percentile))
    value = multiple * math.ceil(value / multiple)
    return int(min(upper, max(lower, value)))


def coverage(counts, vocabulary, found):
    """How much of the training text finds a pretrained vector.

    Args:
        counts: Token -> count over the training texts.
        vocabulary: The vocabulary (reserved entries first).
        found: bool array aligned with `vocabulary`.

    Returns:
        A dict: `token_coverage` (share of all training tokens whose vocabulary
        entry has a pretrained vector; tokens outside the vocabulary count as
        not covered), `type_coverage` (share of vocabulary entries, reserved
        excluded, with a vector), and the counts behind them.
    """
    total_tokens = sum(counts.values())
    covered_tokens = sum(counts.get(t, 0) for t, hit in zip(vocabulary, found) if hit and t not in RESERVED)
    types = [t for t in vocabulary if t not in RESERVED]
    found_types = int(sum(1 for t, hit in zip(vocabulary, found) if hit and t not in RESERVED))
    in_vocab_tokens = sum(counts.get(t, 0) for t in types)
    return {
        "token_coverage": covered_tokens / total_tokens if total_tokens else 0.0,
        "type_coverage": found_types / len(types) if types else 0.0,
        "vocabulary_types": len(types),
        "vocabulary_types_found": found_types,
        "corpus_types": len(counts),
        "corpus_tokens": int(total_tokens),
        "tokens_in_vocabulary": in_vocab_tokens / total_tokens if total_tokens else 0.0,
    }
