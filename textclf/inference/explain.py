"""Why did the model say that? Per-token contributions by occlusion.

A token's contribution is how much the probability of the explained class
drops when that one token is left out of the text:
`p(class | text) - p(class | text without the token)`. Positive tokens speak
for the class, negative ones against it.

Every variant goes through `TextClassifier.predict_proba`, the saved model's
one prediction path, so the contribution is to the mixed output: the
recurrent model and the n-gram branch together (leaving a token out also
removes the n-grams it was part of). All variants of all texts are predicted
in large batches, so explaining a text of n tokens costs n + 1 predictions in
a few calls rather than n + 1 calls. Occlusion was chosen over sampled
masks (LIME-style) by the deletion test in `benchmarks/explain_deletion.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

VARIANTS_PER_CALL = 4096  # texts per predict_proba call (bounds memory on long texts)
# Clitics the tokenizer splits off the word before them (do n't, it 's); glued back
# on when a variant is written out so that re-tokenizing gives the same tokens.
_CLITIC = re.compile(r"'(s|re|ve|ll|d|m)$")


@dataclass
class Explanation:
    """Token contributions to one text's explained class.

    Attributes:
        text: The text as given.
        tokens: Its tokens, as the model's tokenizer splits them.
        scores: Contribution of each token (same length as `tokens`).
        label: The explained class (by default the predicted one).
        probability: The model's probability of `label` for the whole text.
    """

    text: str
    tokens: list
    scores: np.ndarray
    label: str
    probability: float

    def top(self, k):
        """Indices of the `k` tokens with the largest contributions, largest first."""
        return [int(i) for i in np.argsort(-self.scores, kind="stable")[:k]]


def join_tokens(tokens):
    """A string the model's tokenizer splits back into `tokens`.

    Tokens are joined with spaces, except clitics ('s, 're ...), which are
    glued to the token before them as the tokenizer found them. A clitic that
    starts the text has no word to lean on: it comes back as ' and s.
    """
    parts = []
    for token in tokens:
        if parts and _CLITIC.match(token):
            parts[-1] += token
        else:
            parts.append(token)
    return " ".join(parts)


def occlusion_variants(tokens, span=1):
    """The texts `tokens` minus `span` consecutive tokens each (one token by default), in token order."""
    return [join_tokens(tokens[:i] + tokens[i + span:]) for i in range(0, len(tokens), span)]


def span_for(length, max_spans):
    """Tokens occluded together so that a text of `length` tokens has at most `max_spans` variants."""
    return 1 if max_spans is None or length <= max_spans else -(-length // max_spans)


def explain(classifier, texts, *, targets=None, batch_size=256, max_spans=None):
    """Per-token contributions to each text's predicted (or given) class.

    Args:
        classifier: Anything with `predict_proba(texts, batch_size, validate)` and
            `classes_` (a `TextClassifier`).
        texts: Sequence of `str`.
        targets: Optional class index per text to explain; default: the
            predicted class of each text.
        batch_size: Passed to `predict_proba`.
        max_spans: Optional bound on the variants per text: a longer text is
            occluded in runs of consecutive tokens and each token gets its
            run's score (the cost of one text is quadratic in its length).

    Returns:
        A list of `Explanation`, one per text.
    """
    from textclf.text.tokenize import tokenize

    texts = [str(text) for text in texts]
    token_lists = tokenize(texts)
    whole = classifier.predict_proba(texts, batch_size=batch_size)
    if targets is None:
        targets = np.argmax(whole, axis=1)
    targets = np.asarray(targets, dtype=np.int64)
    if targets.shape != (len(texts),):
        raise ValueError(f"targets must hold one class index per text ({len(texts)}). Received shape {targets.shape}")
    spans = [span_for(len(tokens), max_spans) for tokens in token_lists]
    variants = [variant for tokens, span in zip(token_lists, spans) for variant in occlusion_variants(tokens, span)]
    counts = [-(-len(tokens) // span) for tokens, span in zip(token_lists, spans)]
    owner = np.repeat(np.arange(len(texts)), counts)
    occluded = np.empty(len(variants), dtype=np.float32)
    for begin in range(0, len(variants), VARIANTS_PER_CALL):
        rows = slice(begin, begin + VARIANTS_PER_CALL)
        # A text with its only token left out is empty: the rule on texts is for what users pass, not for these.
        probabilities = classifier.predict_proba(variants[rows], batch_size=batch_size, validate=False)
        occluded[rows] = probabilities[np.arange(len(probabilities)), targets[owner[rows]]]
    baseline = whole[np.arange(len(texts)), targets]
    drops = baseline[owner] - occluded
    bounds = np.concatenate([[0], np.cumsum(counts)])
    classes = [str(label) for label in classifier.classes_]
    return [
        Explanation(text, tokens, np.repeat(drops[bounds[i]:bounds[i + 1]], spans[i])[:len(tokens)],
                    classes[targets[i]], float(baseline[i]))
        for i, (text, tokens) in enumerate(zip(texts, token_lists))
    ]


# 256-colour backgrounds from faint to strong (black text stays readable on all).
_GREENS = (194, 157, 120, 83, 46)
_REDS = (224, 217, 210, 203, 196)


def shade_ansi(explanation):
    """The tokens with ANSI background colours: green for, red against the class.

    Shades are relative to the text's largest absolute contribution; tokens
    under a tenth of it stay unshaded.
    """
    largest = float(np.max(np.abs(explanation.scores), initial=0.0))
    words = []
    for token, score in zip(explanation.tokens, explanation.scores):
        strength = abs(float(score)) / largest if largest > 0 else 0.0
        if strength < 0.1:
            words.append(token)
            continue
        palette = _GREENS if score > 0 else _REDS
        colour = palette[min(len(palette) - 1, int(strength * len(palette)))]
        words.append(f"\x1b[30;48;5;{colour}m{token}\x1b[0m")
    return " ".join(words)
