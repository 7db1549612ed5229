"""GloVe-compatible tokenization.

glove.6B was trained on text tokenized the Penn Treebank way (Stanford
CoreNLP): lowercased, punctuation split into its own tokens and clitics split
off the word before them (`don't` -> `do n't`, `it's` -> `it 's`). Matching that
is what lets most tokens find a pretrained vector.

The standardization is written with `tf.strings` ops so that the very same
function runs inside the saved model (as the `standardize` of a Keras
`TextVectorization` layer) and in the training pipeline: there is one
tokenizer, never a Python twin that could drift from it. Splitting is then
plain whitespace splitting.
"""

from __future__ import annotations

# Rules applied in order; each is (RE2 pattern, replacement).
GLOVE_RULES = (
    # Control, format and separator characters (tabs, newlines, U+0085, NBSP,
    # zero-width spaces...) all become plain spaces.
    (r"[\pC\pZ]+", " "),
    # IMDB-style HTML line breaks.
    (r"<br\s*/?>", " "),
    # Typographic apostrophes and quotes to their ASCII forms.
    ("[\u2018\u2019\u02bc\u0060\u00b4]", "'"),
    ("[\u201c\u201d\u201e\u00ab\u00bb]", '"'),
    # An apostrophe at the start or end of a word is a quote mark ('hi',
    # dogs'), not part of a clitic: give it a token of its own first.
    (r"(^|\s)'", r"\1' "),
    (r"'(\s|$)", r" '\1"),
    # Clitics, spelled as glove.6B has them: do n't, it 's, we 're ...
    (r"n't\b", " n't"),
    (r"'(s|re|ve|ll|d|m)\b", r" '\1"),
    # Every other punctuation or symbol character, except those that occur
    # inside words and numbers (' - . ,), is a token of its own.
    (r"([^\pL\pN\pM\s'.,-])", r" \1 "),
    # Periods and commas end a word unless followed by more word (3.5, 1,000,
    # e.g); runs of periods ("...") stay one token.
    (r"(\.{2,}|[.,])(\s|$)", r" \1\2"),
    (r"(^|\s)(\.{2,}|[.,])", r"\1\2 "),
    # A text with no token at all becomes one out-of-vocabulary token, so no
    # sequence is ever empty (empty sequences break masked pooling and cuDNN).
    (r"^\s*$", "[UNK]"),
)

KERAS_PACKAGE = "textclf"  # the package name of every Keras object textclf registers
STANDARDIZE_NAME = "glove_standardize"


def glove_standardize(texts):
    """Lowercases and spaces out a batch of strings the way glove.6B is spelled.

    Args:
        texts: A string `tf.Tensor` of any shape.

    Returns:
        A string tensor of the same shape whose whitespace-separated tokens are
        the GloVe tokens.
    """
    import tensorflow as tf

    texts = tf.strings.lower(texts, encoding="utf-8")
    for pattern, replacement in GLOVE_RULES:
        texts = tf.strings.regex_replace(texts, pattern, replacement)
    return texts


def tokenize(texts, batch_size=8192):
    """Tokenizes Python strings with the exact tokenizer the model uses.

    Args:
        texts: A sequence of `str`.
        batch_size: How many texts go through TensorFlow at once.

    Returns:
        A list of lists of `str` tokens, one list per text.
    """
    import tensorflow as tf

    out = []
    for start in range(0, len(texts), batch_size):
        batch = tf.constant(list(texts[start : start + batch_size]), dtype=tf.string)
        ragged = tf.strings.split(glove_standardize(batch))
        out.extend([t.decode("utf-8") for t in row] for row in ragged.to_list())
    return out
