"""CSV/TSV files: empty ones and ones with another field separator than the one they are
read with are errors that name the file, the separator they seem to use and the flag."""

from __future__ import annotations

import gzip

import pytest

from rankwright.data.readers import DataConfig, read_relevance
from rankwright.data.readers.delimited import guess_separator, read_delimited, separator
from rankwright.data.records import DataError

ROWS = [["query", "doc", "label"], ["red shoe", "red running shoe, size 9", "1"], ["red shoe", "blue hat", "0"]]


def _write(path, sep, rows=ROWS):
    path.write_text("".join(sep.join(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "name, sep, said, fix",
    [
        ("semi.csv", ";", "semicolon", "pass --data.sep ';'"),
        ("pipes.csv", "|", "pipe", "pass --data.sep '|'"),
        ("tabs.csv", "\t", "tab", "rename it to .tsv or pass --data.sep tab"),
    ],
)
def test_another_separator_is_named_with_the_flag_to_pass(tmp_path, name, sep, said, fix):
    path = _write(tmp_path / name, sep)
    with pytest.raises(DataError) as err:
        read_relevance(path)
    assert str(err.value).startswith(f"{path}: has a single column")
    assert f"it looks {said}-separated, not comma-separated; {fix}" in str(err.value)
    flag = fix.split("--data.sep ")[1].strip("'")
    data = read_relevance(DataConfig(path=str(path), sep=flag))
    assert list(data.pairs["doc"]) == ["red running shoe, size 9", "blue hat"]


def test_a_comma_file_read_as_tsv_is_named_too(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text('query,doc,label\nred shoe,"red, running shoe",1\nred shoe,blue hat,0\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"it looks comma-separated, not tab-separated; pass --data.sep ','"):
        read_relevance(path)


def test_a_parse_error_gives_the_guess_instead_of_pandas_words(tmp_path):
    """A header without the separator read by, and a later line with it: pandas' own
    error is "Expected 1 fields in line 3, saw 2"."""
    path = tmp_path / "odd.csv"
    path.write_text("query;doc;label\nred shoe;red shoe;1\nred, blue;a, b, c;0\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_relevance(path)
    assert str(err.value).startswith(f"{path}: ")
    assert "it looks semicolon-separated, not comma-separated; pass --data.sep ';'" in str(err.value)
    assert "Error tokenizing" not in str(err.value)


def test_a_bad_row_of_the_right_separator_says_to_quote(tmp_path):
    path = tmp_path / "unquoted.csv"
    path.write_text("query,doc,label\nred shoe,red shoe,1\nred shoe,red, running shoe,0\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        read_relevance(path)
    assert str(err.value) == (
        f"{path}: cannot be read as comma-separated (Expected 3 fields in line 3, saw 4); "
        "a field with a comma in it needs double quotes"
    )


def test_a_compressed_file_is_guessed_from_its_text(tmp_path):
    path = tmp_path / "semi.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join(";".join(row) + "\n" for row in ROWS))
    with pytest.raises(DataError, match=r"semi.csv.gz: has a single column .*semicolon-separated"):
        read_delimited(path)


def test_the_separator_setting():
    from pathlib import Path

    assert separator(Path("a.csv"), None) == "," and separator(Path("a.tsv.gz"), None) == "\t"
    assert separator(Path("a.csv"), "tab") == separator(Path("a.csv"), "\\t") == "\t"
    assert separator(Path("a.csv"), "semicolon") == ";" and separator(Path("a.csv"), "|") == "|"
    with pytest.raises(ValueError, match=r"data\.sep must be one character"):
        separator(Path("a.csv"), ";;")


def test_guess_separator_ignores_separators_only_inside_text():
    lines = ["query;doc;label", 'red;"a, b, c";1', "blue;d, e;0"]
    assert guess_separator(lines, ",") == ";"
    assert guess_separator(["query"], ",") is None
    assert guess_separator([], ",") is None


def test_a_score_table_scoring_a_pair_twice_names_the_rows(tmp_path):
    from rankwright.commands.evaluate import load_scores

    rows = [["query_id", "doc_id", "score"], ["q1", "d1", "1.5"], ["q1", "d2", "0.5"], ["q1", "d1", "0.2"]]
    path = _write(tmp_path / "scores.csv", ",", rows)
    with pytest.raises(
        DataError, match=r"scores.csv, row 3: query_id q1 and document d1 are scored more than once \(rows 1, 3\)"
    ):
        load_scores(str(path))


def test_run_score_tables_say_to_save_the_file_instead(tmp_path):
    from rankwright.commands.evaluate import load_scores

    path = _write(tmp_path / "scores.csv", ";", [["query_id", "doc_id", "score"], ["q", "d", "1.5"]])
    with pytest.raises(DataError, match=r"semicolon-separated, not comma-separated; save it comma-separated"):
        load_scores(str(path))
