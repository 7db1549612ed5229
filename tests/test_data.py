"""Reading labeled tables."""

import gzip

import pytest

from conftest import make_texts, write_csv
from textclf.data.tables import read_labeled
from textclf.errors import InputDataError


def test_csv_tsv_gz_parquet_read_the_same(tmp_path):
    import pandas as pd

    rows = make_texts(10) + [('with, comma and "quotes"\nand a newline', "food")]
    csv_path = write_csv(tmp_path / "a.csv", rows)
    tsv_path = write_csv(tmp_path / "a.tsv", rows, delimiter="\t")
    gz_path = tmp_path / "a.csv.gz"
    gz_path.write_bytes(gzip.compress(csv_path.read_bytes()))
    pq_path = tmp_path / "a.parquet"
    pd.DataFrame(rows, columns=["text", "label"]).to_parquet(pq_path)
    results = [read_labeled(p) for p in (csv_path, tsv_path, gz_path, pq_path)]
    for result in results:
        assert result.texts == [t for t, _ in rows]
        assert result.labels == [y for _, y in rows]


def test_numeric_labels_keep_their_spelling(tmp_path):
    path = write_csv(tmp_path / "n.csv", [("good", "1"), ("bad", "0"), ("fine", "01")])
    assert read_labeled(path).labels == ["1", "0", "01"]


def test_bom_and_crlf_just_work(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext,label\r\nhello there,a\r\nbye now,b\r\n".encode("utf-8"))
    data = read_labeled(path)
    assert data.texts == ["hello there", "bye now"] and data.labels == ["a", "b"]


def test_invalid_utf8_suggests_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\xe9 au lait,a\n".encode("latin-1"))
    with pytest.raises(InputDataError, match=r"latin\.csv: is not valid utf-8.*--encoding latin-1"):
        read_labeled(path)
    assert read_labeled(path, encoding="latin-1").texts == ["caf\u00e9 au lait"]


@pytest.mark.parametrize(
    "content, pattern",
    [
        ("", r"file is empty"),
        ("text,label\n", r"has a header but no data rows"),
        ("text;label\na;b\n", r"no column 'text'; columns found: 'text;label'.*delimiter"),
        ("text,text,label\na,b,c\n", r"row 1: column name 'text' appears more than once"),
        ('text,label\n"unclosed,a\nb,c\n', r"row 2: unbalanced quote"),
    ],
)
def test_bad_tables(tmp_path, content, pattern):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputDataError, match=pattern):
        read_labeled(path)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(InputDataError, match=r"is a directory"):
        read_labeled(tmp_path)
