"""Rows whose text lies inside another row's text: duplicates and sub-phrases.

Phrase-annotated corpora (the Stanford Sentiment Treebank behind SST-2) hold
every sentence and, as separate labeled rows, its sub-phrases; other corpora
hold duplicate rows. A random validation split then scores the model on
texts it was trained on (a validation sentence whose phrases are training
rows, or the same message on both sides), which rewards memorizing and
misleads early stopping and every choice made on validation. Grouping each
row with the "documents" (rows inside no other row) that contain it lets the
split keep a document and the phrases only it contains on one side, as an
unseen test document would be.

Texts are compared lowercased, as whitespace-separated words: containment
means a contiguous run of whole words.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

# Texts are found inside others through their first words: a dictionary of
# first-ANCHOR-word tuples, probed at each position of every text.
ANCHOR = 3


@dataclass(frozen=True)
class Overlap:
    """Which rows repeat or lie inside others.

    Attributes:
        text_ids: Per row, the index of its distinct text (numbered in order of
            first appearance).
        first_rows: Per distinct text, the first row holding it.
        roots: Per distinct text, the distinct texts that are documents (inside
            no other text) and contain it, ascending; a document's roots are
            itself.
    """

    text_ids: np.ndarray
    first_rows: np.ndarray
    roots: tuple

    @functools.cached_property  # derived from `roots`; read several times per training run
    def documents(self):
        """Distinct-text indices of the documents, in order of first appearance."""
        return np.array([i for i, r in enumerate(self.roots) if r == (i,)], dtype=np.int64)

    @property
    def document_rows(self):
        """First row of each document: the rows a length statistic should describe."""
        return self.first_rows[self.documents]

    @property
    def overlapping_rows(self):
        """Rows that duplicate an earlier row or lie inside another row's text."""
        first = np.zeros(len(self.text_ids), dtype=bool)
        first[self.first_rows] = True
        is_document = np.zeros(len(self.roots), dtype=bool)
        is_document[self.documents] = True
        return int(np.sum(~first | ~is_document[self.text_ids]))


def no_overlap(n_rows):
    """The `Overlap` of `n_rows` rows treated as distinct documents (a split over rows)."""
    rows = np.arange(n_rows, dtype=np.int64)
    return Overlap(rows, rows, tuple((i,) for i in range(n_rows)))


def find_overlap(texts):
    """Finds duplicate rows and rows contained in other rows.

    Runs in time about linear in the total number of words (a few seconds for
    IMDB's 25,000 reviews).

    Args:
        texts: Sequence of str.

    Returns:
        An `Overlap`.
    """
    text_ids, first_rows, words = _distinct_texts(texts)
    contained_in = _Containment(words).contained_in
    inside = [contained_in(text_id) for text_id in range(len(words))]
    return Overlap(text_ids, first_rows, _roots(inside))


def _distinct_texts(texts):
    """`(text_ids, first_rows, words)`: each row's distinct text, where each first appears, and its words."""
    index = {}
    text_ids = np.empty(len(texts), dtype=np.int64)
    first_rows = []
    words = []
    for row, text in enumerate(texts):
        key = tuple(text.lower().split())
        text_id = index.get(key)
        if text_id is None:
            text_id = index[key] = len(words)
            words.append(key)
            first_rows.append(row)
        text_ids[row] = text_id
    return text_ids, np.asarray(first_rows, dtype=np.int64), words


class _Containment:
    """Finds which distinct texts lie inside a given one.

    Short texts (< ANCHOR words) are looked up whole. Longer ones by their first words, then by length and
    last word, so that a first-words prefix shared by many texts (templated rows) costs one lookup per distinct
    length, not one comparison per text.

    Args:
        words: Per distinct text, its tuple of words (all different).
    """

    def __init__(self, words):
        self.words = words
        self.lengths_by_anchor = defaultdict(set)
        self.by_ends = defaultdict(list)
        self.short = {}
        for text_id, key in enumerate(words):
            if len(key) >= ANCHOR:
                self.lengths_by_anchor[key[:ANCHOR]].add(len(key))
                self.by_ends[key[:ANCHOR], len(key), key[-1]].append(text_id)
            elif key:
                self.short[key] = text_id

    def contained_in(self, text_id):
        """Distinct texts found inside text `text_id` (itself excluded)."""
        key, words, short = self.words[text_id], self.words, self.short
        lengths_by_anchor, by_ends = self.lengths_by_anchor, self.by_ends
        found = set()
        if short:
            for width in range(1, ANCHOR):
                for start in range(len(key) - width + 1):
                    hit = short.get(key[start:start + width])
                    if hit is not None:
                        found.add(hit)
        for start, gram in enumerate(zip(*(key[k:] for k in range(ANCHOR)))):
            room = len(key) - start
            for size in lengths_by_anchor.get(gram, ()):
                if size <= room:
                    for candidate in by_ends.get((gram, size, key[start + size - 1]), ()):
                        if key[start:start + size] == words[candidate]:
                            found.add(candidate)
        found.discard(text_id)
        return found


def _roots(inside):
    """Per distinct text, the documents (texts inside no other) that contain it, or itself if it is one."""
    is_document = np.ones(len(inside), dtype=bool)
    for found in inside:
        is_document[list(found)] = False
    roots = [[] for _ in inside]
    for text_id in np.flatnonzero(is_document):
        roots[text_id].append(int(text_id))
        for inner in inside[text_id]:
            roots[inner].append(int(text_id))
    return tuple(tuple(sorted(r)) for r in roots)
