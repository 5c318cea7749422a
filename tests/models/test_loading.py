"""The model type: explicit, else the folder's rankwright.json, else the config; an
explicit type over a folder saved as another type says what the folder holds. A new
score head is one rankwright line, not transformers' load report."""

from __future__ import annotations

import logging
import shutil

import pytest
import transformers
from transformers import AutoModelForSequenceClassification

from rankwright.inference.reranker import Reranker
from rankwright.models.loading import load_sequence_classifier, model_type_of
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


class _Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def transformers_log():
    """What transformers logs (its loggers do not reach caplog), at its default verbosity."""
    handler, logger = _Records(), logging.getLogger("transformers")
    previous = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_warning()
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)
    transformers.logging.set_verbosity(previous)


def _load_reports(records) -> list[str]:
    return [r.getMessage() for r in records if "LOAD REPORT" in r.getMessage()]


def test_a_new_score_head_is_one_rankwright_line_instead_of_transformers_load_report(
    tiny_bert, tiny_cross_encoder, transformers_log, caplog
):
    AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=1)
    assert _load_reports(transformers_log)  # what transformers alone prints on every such load
    transformers_log.clear()
    with caplog.at_level(logging.INFO, logger="rankwright.models.loading"):
        load_sequence_classifier(tiny_bert, 2)
        load_sequence_classifier(tiny_cross_encoder, 3)  # a head of another size: replaced
    assert _load_reports(transformers_log) == []
    assert [r.getMessage() for r in caplog.records if "score head" in r.getMessage()] == [
        f"{folder}: the score head (classifier.bias, classifier.weight) is newly initialised with {n} output(s); "
        "training learns it"
        for folder, n in ((tiny_bert, 2), (tiny_cross_encoder, 3))
    ]
    assert transformers.logging.get_verbosity() == transformers.logging.WARNING  # restored after the load
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="rankwright"):
        load_sequence_classifier(tiny_cross_encoder, 1)  # its own head: nothing to say
        Reranker.from_pretrained(tiny_bert, device="cpu")  # a bare encoder: its warning only
    assert _load_reports(transformers_log) == []
    assert [r.getMessage() for r in caplog.records if "head" in r.getMessage()] == [
        f"{tiny_bert} has no trained score head (architectures ['BertModel']): a new, random one is used"
    ]
