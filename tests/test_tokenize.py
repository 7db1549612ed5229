"""The GloVe tokenizer spells text the way glove.6B does."""

import pytest

from textclf.text.tokenize import tokenize


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Don't stop", ["do", "n't", "stop"]),
        ("It's GREAT!", ["it", "'s", "great", "!"]),
        ("We're here, they've gone; I'll go. I'd I'm", ["we", "'re", "here", ",", "they", "'ve", "gone", ";",
                                                       "i", "'ll", "go", ".", "i", "'d", "i", "'m"]),
        ("can't won't", ["ca", "n't", "wo", "n't"]),
        ("The dogs' bone", ["the", "dogs", "'", "bone"]),
        ("'quoted' words", ["'", "quoted", "'", "words"]),
        ("It costs $3.50 or 1,000 yen.", ["it", "costs", "$", "3.50", "or", "1,000", "yen", "."]),
        ("Wait... what?!", ["wait", "...", "what", "?", "!"]),
        ("well-known (really) \"quotes\"", ["well-known", "(", "really", ")", '"', "quotes", '"']),
        ("Line one<br /><br />Line two", ["line", "one", "line", "two"]),
        ("John\u2019s \u201cquotes\u201d", ["john", "'s", '"', "quotes", '"']),
        ("Caf\u00e9 na\u00efve \u00dcBER", ["caf\u00e9", "na\u00efve", "\u00fcber"]),
        ("tab\tand\nnewline\u0085nel", ["tab", "and", "newline", "nel"]),
        ("emoji \U0001F600 here", ["emoji", "\U0001F600", "here"]),
        ("", ["[UNK]"]),
        ("\u200b\u0000", ["[UNK]"]),
    ],
)
def test_glove_spelling(text, tokens):
    assert tokenize([text]) == [tokens]


def test_coverage_on_glove_vocabulary():
    """Most tokens of ordinary English find a glove.6B vector."""
    from textclf.embeddings import build_embedding_matrix

    text = ("I don't think it's the film's best moment, but we'll see: the actors (mostly) "
            "weren't bad; it costs $10... or 1,000 yen!")
    tokens = tokenize([text])[0]
    vocabulary = ["", "[UNK]"] + sorted(set(tokens))
    found = build_embedding_matrix("glove-6b-50d", vocabulary, oov="zeros").found
    assert found[2:].all(), [t for t, f in zip(vocabulary, found) if not f]
