"""rankwright.json that cannot be read names the file and the problem."""

from __future__ import annotations

import pytest

from rankwright.models.metadata import METADATA_FILE, ModelMetadata


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"model_type": "cross-encoder"', r"is not valid JSON \(.*\): the model folder is damaged"),
        ("[1, 2]", r"must hold a JSON object, got list"),
        ('{"schema_version": "2"}', r"schema_version must be a whole number, got '2'"),
    ],
)
def test_a_damaged_metadata_file_is_a_clear_error(tmp_path, text, message):
    (tmp_path / METADATA_FILE).write_text(text)
    with pytest.raises(ValueError, match=rf"{METADATA_FILE}:? {message}"):
        ModelMetadata.load(tmp_path)


def test_a_saved_file_loads_back(tmp_path):
    ModelMetadata(max_length=64).save(tmp_path)
    assert ModelMetadata.load(tmp_path).max_length == 64
