"""The model type: explicit, else the folder's rankwright.json, else the config; an
explicit type over a folder saved as another type says what the folder holds."""

from __future__ import annotations

import logging
import shutil

from rankwright.models.loading import model_type_of
from rankwright.models.metadata import ModelMetadata


def test_the_saved_type_decides_unless_one_is_given_and_a_mismatch_is_said(tmp_path, tiny_cross_encoder, caplog):
    folder = tmp_path / "bi"
    shutil.copytree(tiny_cross_encoder, folder)
    ModelMetadata(model_type="bi-encoder", score="cosine").save(folder)
    assert model_type_of(str(folder)) == "bi-encoder"
    assert model_type_of(tiny_cross_encoder) == "cross-encoder"  # from config.architectures
    with caplog.at_level(logging.INFO, logger="rankwright.models.loading"):
        assert model_type_of(str(folder), "cross-encoder") == "cross-encoder"
    assert f"{folder} holds a bi-encoder model; model.type cross-encoder uses its weights" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="rankwright.models.loading"):
        assert model_type_of(str(folder), "bi-encoder") == "bi-encoder"
    assert "holds a" not in caplog.text
