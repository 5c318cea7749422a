"""The item table: MovieLens u.item genre flags, list-like genre columns, templates, drops."""

from __future__ import annotations

import pytest

from rankwright.data.records import DataError
from rankwright.interactions.items import ItemsConfig, read_items


def test_movielens_u_item_flags_become_genres(shared_data):
    catalog = read_items(
        ItemsConfig(path=str(shared_data / "movielens-100k" / "u.item"), text_template="{title}. Genres: {genres}")
    )
    assert len(catalog) == 1682 and catalog.report["rows_dropped"] == 0
    toy = catalog.row["1"]
    assert catalog.titles[toy] == "Toy Story (1995)"
    assert catalog.genres[toy] == ("Animation", "Children's", "Comedy")
    assert catalog.texts[toy] == "Toy Story (1995). Genres: Animation, Children's, Comedy"
    assert all("unknown" not in g for g in catalog.genres)  # the "unknown" flag is not a genre


def test_a_latin1_movielens_item_file_without_u_genre(tmp_path):
    path = tmp_path / "items.item"
    flags = ["0"] * 19
    flags[8] = flags[14] = "1"  # Drama, Romance
    line = "|".join(["7", "Amélie (2001)", "01-Jan-2001", "", "http://x", *flags]) + "\n"
    path.write_bytes(line.encode("latin-1"))
    catalog = read_items(ItemsConfig(path=str(path), format="movielens", text_template="{title} ({genres})"))
    assert catalog.texts == ["Amélie (2001) (Drama, Romance)"]


def test_a_genres_column_is_split_and_the_template_fills_columns(tmp_path):
    path = tmp_path / "books.csv"
    path.write_text("book_id,title,authors,tags\n1,Dune,Frank Herbert,sci-fi;classic\n2,Emma,Jane Austen,\n")
    config = ItemsConfig(
        path=str(path), id="book_id", genres="tags", genre_separator=";", text_template="{title} by {authors}"
    )
    catalog = read_items(config)
    assert catalog.ids == ["1", "2"]
    assert catalog.genres == [("sci-fi", "classic"), ()]
    assert catalog.texts == ["Dune by Frank Herbert", "Emma by Jane Austen"]


def test_repeated_ids_and_empty_texts_are_dropped_and_counted(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,title\na,First\nb,\na,Again\n,Nameless\nc,Third\n")
    catalog = read_items(ItemsConfig(path=str(path)))
    assert catalog.ids == ["a", "c"] and catalog.titles == ["First", "Third"]
    assert catalog.report["dropped_by_reason"] == {
        "empty item text": 1,
        "repeated item id (first row kept)": 1,
        "missing item id": 1,
    }
    assert catalog.report["examples"]["repeated item id (first row kept)"] == [f"{path}: rows 1 and 3: id 'a'"]


def test_missing_values_of_a_parquet_table_are_counted_like_a_csvs(tmp_path):
    import pandas as pd

    path = tmp_path / "items.parquet"
    frame = pd.DataFrame({"item_id": [1, 2, None, 4], "title": ["First", None, "Nameless", "Fourth"]})
    frame["item_id"] = frame["item_id"].astype("Int64")  # an integer column with a missing id
    frame.to_parquet(path)
    catalog = read_items(ItemsConfig(path=str(path)))
    assert catalog.ids == ["1", "4"] and catalog.titles == ["First", "Fourth"]
    assert catalog.report["dropped_by_reason"] == {"empty item text": 1, "missing item id": 1}
    assert "nan" not in catalog.ids and not any("nan" in t.lower() for t in catalog.texts)


def test_bad_item_configs_name_the_file_and_the_problem(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,title\na,First\n")
    with pytest.raises(DataError, match=r"items.csv: no column 'name' \(title\); columns present"):
        read_items(ItemsConfig(path=str(path), title="name"))
    with pytest.raises(DataError, match=r"text_template names \{plot\}, which is not a column"):
        read_items(ItemsConfig(path=str(path), text_template="{title}: {plot}"))
    with pytest.raises(DataError, match="does not exist"):
        read_items(ItemsConfig(path=str(tmp_path / "missing.csv")))


def test_the_fingerprint_follows_the_texts(tmp_path):
    path = tmp_path / "items.csv"
    path.write_text("item_id,title\na,First\n")
    first = read_items(ItemsConfig(path=str(path)))
    path.write_text("item_id,title\na,Changed\n")
    assert read_items(ItemsConfig(path=str(path))).fingerprint != first.fingerprint
