"""``rankwright recipe`` end to end on tiny data: a BEIR folder (first stage retrieves
from the corpus, negatives are mined) and a pair table (no corpus: BM25 over each
query's candidates), with a tiny cross-encoder and the packaged MiniLM as the dense
model and teacher. The selection must only see validation queries."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rankwright.cli import main as cli
from rankwright.config import from_dict
from rankwright.data.readers import DataConfig, read_relevance, read_run
from rankwright.data.split import split_data
from rankwright.models.metadata import ModelMetadata
from rankwright.recipe import RecipeConfig, main
from rankwright.recipe.heldout import ZERO_SHOT_ROW
from rankwright.recipe.prepare import sample_queries

WORDS = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan", "rug", "bulb", "saw", "mop"]
N_QUERIES = 30
DOCS: dict[str, str] = {}
QUERIES: dict[str, str] = {}
QRELS: list[tuple[str, str, int]] = []
for _q in range(N_QUERIES):
    _w = WORDS[_q % len(WORDS)]
    QUERIES[f"q{_q}"] = f"cordless {_w} for the garden"
    DOCS[f"d{_q}a"] = f"a cordless {_w} that works in any garden"
    DOCS[f"d{_q}b"] = f"{_w} spare parts and garden tools"
    DOCS[f"d{_q}c"] = f"kitchen recipes number {_q}"
    QRELS += [(f"q{_q}", f"d{_q}a", 2), (f"q{_q}", f"d{_q}b", 1)]

TINY = {
    "model": {"max_length": 32},
    "training": {"epochs": 1, "batch_size": 8, "eval_batch_size": 64, "logging_steps": 5},
    "warmup": {"epochs": 1},
    "bi_encoder": {"epochs": 1, "batch_size": 8, "max_length": 32, "negatives": 1, "warm_start": True},
    "retriever": {"top_k": 10},
    "validation_depth": 5,
    "mining": {"ranks": [1, 10], "negatives": 3},
    "fusion": {"grid": 4},
    "progress": False,
}


@pytest.fixture(scope="module")
def beir(tmp_path_factory, write_beir) -> Path:
    return write_beir(tmp_path_factory.mktemp("recipe") / "tiny", DOCS, QUERIES, QRELS)


#: (model folder, text) of every text sentence-transformers encoded in the corpus run
ENCODED: list[tuple[str, str]] = []


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory, beir, tiny_bert):
    from sentence_transformers import SentenceTransformer

    out = tmp_path_factory.mktemp("recipe-out") / "run"
    config = from_dict(RecipeConfig, {"data": {"path": str(beir)}, "model": {"name": tiny_bert}, **TINY})
    config.model.name = tiny_bert
    config.output_dir = str(out)
    encode = SentenceTransformer.encode

    def counted(self, sentences, *args, **kwargs):
        folder = str(self[0].auto_model.config._name_or_path)
        ENCODED.extend((folder, text) for text in ([sentences] if isinstance(sentences, str) else sentences))
        return encode(self, sentences, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SentenceTransformer, "encode", counted)
        return main(config), out


def test_corpus_recipe_writes_every_system_and_the_selection(corpus_run, beir):
    result, out = corpus_run
    m = json.loads((out / "recipe.json").read_text())
    parts = split_data(read_relevance(DataConfig(path=str(beir))), RecipeConfig().split)
    counts = {name: part.n_queries for name, part in parts.items()}
    assert m["queries"] == {**counts, "train_available": counts["train"]}
    assert m["first_stage"]["kind"] == "bm25" and m["first_stage"]["candidates"] == "top 10 of the corpus"
    assert m["mining"]["queries_written"] == counts["train"]
    assert m["warmup"] is not None  # where the supervised model is depends on what won: see warmup_choice below
    systems = list(m["test"]["ranking"])
    # the zero-shot fusion row is there when a first stage + dense fusion beat both alone on validation
    assert (ZERO_SHOT_ROW in systems) == (result.selection.zero_shot is not None)
    systems = [s for s in systems if s != ZERO_SHOT_ROW]
    # over a corpus, the fine-tuned bi-encoder also retrieves the top k itself: a row and a candidate
    retrieval = m["bi_encoder_retrieval"]["row"]
    assert retrieval == "fine-tuned bi-encoder retrieval (top 10 of the corpus)" and retrieval in systems
    assert "biencoder_retrieval" in m["selection"]["validation"]
    assert any(retrieval in message for message in m["selection"]["messages"])
    if m["selection"]["retrieval"]:
        assert m["selection"]["model"] == m["bi_encoder"]["model"] and systems[-1] == f"selected: {retrieval}"
    systems = [s for s in systems if s != retrieval]
    assert systems[:4] == ["bm25", "dense rerank (zero-shot)", "fine-tuned reranker", "fine-tuned bi-encoder"]
    assert systems[-1] == f"selected: {result.selection.chosen}"
    # warmup.choose: both supervised runs and the warm-up model compete, the best validation
    # nDCG@10 is kept, the others are reported on test as ablations and tested against it
    choice = m["warmup_choice"]
    scores = choice["validation"]
    assert set(scores) == {"with_warmup", "without_warmup", "from_biencoder", "warmup_only"}
    kept = choice["kept"]
    assert scores[kept] == max(scores.values())
    folders = {
        "with_warmup": "reranker",
        "without_warmup": "reranker_without_warmup",
        "from_biencoder": "reranker_from_biencoder",
        "warmup_only": "warmup",
    }
    assert m["supervised"]["model"].startswith(str(out / folders[kept]) + "/")
    assert m["supervised"]["best_validation"]["eval_ndcg@10"] == max(scores.values())
    rows = {
        "with_warmup": "with warm-up",
        "without_warmup": "without warm-up",
        "from_biencoder": "from the bi-encoder",
        "warmup_only": "warm-up only",
    }
    others = [f"fine-tuned reranker {rows[name]} (not kept)" for name in rows if name != kept]
    assert systems[4:7] == others and sorted(choice["not_kept"]) == sorted(set(rows) - {kept})
    for other in others:
        ablation = [c for c in m["test"]["paired_tests"] if c["baseline"] == other]
        assert [c["metric"] for c in ablation] == ["ndcg@10", "map"]
        assert all(c["system"] == "fine-tuned reranker" for c in ablation)
    assert result.messages[0].startswith("reranker: kept the model")
    # the fine-tuned bi-encoder: the packaged MiniLM trained as a bi-encoder, a candidate of its own
    assert m["bi_encoder"]["model"].startswith(str(out / "bi_encoder") + "/")
    assert ModelMetadata.load(m["bi_encoder"]["model"]).model_type == "bi-encoder"
    # the warm start from the bi-encoder's encoder is a cross-encoder with a new head
    from_bi = ModelMetadata.load(m["warmup_choice"]["not_kept"].get("from_biencoder", m["supervised"])["model"])
    assert from_bi.model_type == "cross-encoder" and from_bi.base_model == m["bi_encoder"]["model"]
    tested = {c["system"] for c in m["test"]["paired_tests"]}
    assert {"fine-tuned bi-encoder", "fine-tuned reranker", systems[-1]} <= tested
    for name in systems:
        assert set(m["test"]["ranking"][name]["all"]) >= {"ndcg@10", "map", "mrr", "recall@10", "recall@100"}
    # the selection table scores every candidate on validation and marks one
    table = pd.read_csv(out / "selection.csv")
    assert table["chosen"].sum() == 1
    assert {"reranker alone", "biencoder alone", "first_stage alone", "dense alone"} <= set(table["candidate"])
    # the runs cover exactly the test queries
    test_queries = set(parts["test"].pairs["query_id"])
    for path in sorted((out / "runs").glob("*.trec")):
        assert set(read_run(path)["query_id"]) == test_queries
    assert (out / "compare.html").exists() and (out / "data" / "train.parquet").exists()
    # the baselines were written before training, with the test table's numbers
    baselines = json.loads((out / "baselines.json").read_text())
    assert set(baselines) == {"bm25", "dense rerank (zero-shot)"} and m["baselines"] == baselines
    for name in baselines:
        assert set(baselines[name]) == {"val", "test"}
        assert baselines[name]["test"]["ndcg@10"] == pytest.approx(m["test"]["ranking"][name]["all"]["ndcg@10"])
        assert baselines[name]["val"]["n_queries"] == counts["val"]
    assert (out / "baselines.json").stat().st_mtime < (out / "warmup").stat().st_mtime


def test_the_fine_tuned_bi_encoder_encodes_each_text_once_for_scoring_and_retrieval(corpus_run):
    _, out = corpus_run
    best = json.loads((out / "recipe.json").read_text())["bi_encoder"]["model"]
    texts = [text for folder, text in ENCODED if Path(folder).resolve() == Path(best).resolve()]
    assert set(DOCS.values()) <= set(texts), "it retrieved from the whole corpus"
    assert len(texts) == len(set(texts)), "a text was encoded twice by the fine-tuned bi-encoder"


def test_corpus_recipe_training_file_has_gains_and_teacher_scores(corpus_run):
    _, out = corpus_run
    train = pd.read_parquet(out / "data" / "train.parquet")
    assert set(train["label"]) == {0, 1, 2}  # judged grades kept, mined negatives 0
    assert train["score"].between(-1, 1).all()  # the MiniLM cosine
    per_query = train.groupby("query_id")["label"].apply(lambda s: (s == 0).sum())
    assert (per_query <= 3).all()
    # a judged relevant document is never a negative
    qrels = {(q, d) for q, d, _ in QRELS}
    negatives = train[train["label"] == 0]
    assert not any((q, d) in qrels for q, d in zip(negatives["query_id"], negatives["doc_id"], strict=True))


def test_validation_and_training_files_hold_only_their_own_queries(corpus_run, beir):
    _, out = corpus_run
    parts = split_data(read_relevance(DataConfig(path=str(beir))), RecipeConfig().split)
    val = pd.read_parquet(out / "data" / "val.parquet")
    train = pd.read_parquet(out / "data" / "train.parquet")
    assert set(val["query_id"]) == set(parts["val"].pairs["query_id"])
    assert set(train["query_id"]) == set(parts["train"].pairs["query_id"])
    # the validation file is the first stage's top 5 (validation_depth) of each validation query
    assert (val.groupby("query_id").size() == 5).all()


@pytest.fixture(scope="module")
def pairs_run(tmp_path_factory, write_pointwise, tiny_bert):
    folder = tmp_path_factory.mktemp("recipe-pairs")
    data = write_pointwise(folder / "pairs.jsonl", n_queries=40)
    out = folder / "run"
    argv = ["recipe", "--data.path", str(data), "--labels.scheme", "graded", "--labels.relevant_gain", "1"]
    argv += ["--model.name", tiny_bert, "--model.max_length", "32", "--dense.model", "none"]
    argv += ["--train_queries", "10", "--training.epochs", "1", "--training.batch_size", "8"]
    argv += ["--fusion.grid", "2", "--progress", "false", "--output_dir", str(out)]
    return argv, data, out


def test_pair_data_recipe_from_the_cli(pairs_run, capsys):
    argv, _data, out = pairs_run
    assert cli(argv) == 0
    printed = capsys.readouterr().out
    m = json.loads((out / "recipe.json").read_text())
    assert m["first_stage"]["candidates"] == "each query's given candidates"
    assert m["queries"]["train"] == 10 and m["queries"]["train_available"] > 10
    assert m["warmup"] is None and m["dense"] is None  # no dense model: no teacher, no warm-up
    assert m["bi_encoder"] is None  # and no dense model to fine-tune
    assert list(m["test"]["ranking"])[:2] == ["bm25", "fine-tuned reranker"]
    assert "recall@10" not in m["test"]["ranking"]["bm25"]["all"]  # nothing retrieved: no recall
    # the training file is the 10 sampled queries' judged pairs, labelled by gain
    train = pd.read_parquet(out / "data" / "train.parquet")
    assert train["query_id"].nunique() == 10 and len(train) == 50 and train["score"].isna().all()
    assert "selection on the validation queries" in printed and "test queries:" in printed
    assert m["selection"]["chosen"] in printed and "fine-tuned reranker" in printed


def test_sample_queries_is_seeded_and_a_subset(write_pointwise, tmp_path):
    data = read_relevance(DataConfig(path=str(write_pointwise(tmp_path / "p.jsonl", n_queries=30))))
    a, b = sample_queries(data, 7, 3), sample_queries(data, 7, 3)
    assert set(a.pairs["query_id"]) == set(b.pairs["query_id"]) and a.n_queries == 7
    assert set(sample_queries(data, 7, 4).pairs["query_id"]) != set(a.pairs["query_id"])
    assert sample_queries(data, 100, 3) is data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"split": {"ratios": [0.8, 0.2, 0.0]}}, "three shares > 0"),
        ({"subset": "test"}, "subset must be all"),
        ({"train_queries": 0}, "at least 1"),
        ({"training": {"metric_for_best_model": "map"}}, "metric_for_best_model must be ndcg@10, got 'map'"),
        ({"metrics": {"ndcg_at": [5]}}, r"metrics.ndcg_at must include 10, got \[5\]"),
    ],
)
def test_impossible_setups_fail_before_any_work(overrides, message):
    config = from_dict(RecipeConfig, {"data": {"path": "does-not-matter"}, **overrides})
    with pytest.raises(ValueError, match=message):
        main(config)


def test_a_selected_fusion_is_stored_in_the_model_folder(tmp_path, tiny_cross_encoder):
    import shutil

    from rankwright.recipe.selection import Selection
    from rankwright.recipe.shipping import _store_fusion

    fused = Selection({"method": "minmax", "weights": {"reranker": 0.5, "first_stage": 0.5}}, None, "minmax", [])
    alone = Selection(
        {"method": "minmax", "weights": {"reranker": 0.0, "first_stage": 1.0}}, None, "first_stage alone", []
    )
    for name, selection, stored in (("fused", fused, True), ("alone", alone, False)):
        folder = tmp_path / name
        shutil.copytree(tiny_cross_encoder, folder)
        ModelMetadata(max_length=32).save(folder)
        _store_fusion(str(folder), selection, "tiny (val, 6 queries)", None)
        fusion = ModelMetadata.load(folder).fusion
        if stored:
            assert fusion["weights"] == {"reranker": 0.5, "first_stage": 0.5} and fusion["fitted_on"].startswith("tiny")
        else:
            assert fusion is None  # the model is not part of the selected system: nothing to apply


def test_a_selected_bi_encoder_fusion_ships_the_bi_encoder_folder(tmp_path, tiny_cross_encoder):
    import shutil

    from rankwright.recipe.selection import Selection
    from rankwright.recipe.shipping import _store_fusion, shipped_model

    reranker, biencoder = tmp_path / "reranker", tmp_path / "bi"
    for folder, kind in ((reranker, "cross-encoder"), (biencoder, "bi-encoder")):
        shutil.copytree(tiny_cross_encoder, folder)
        ModelMetadata(model_type=kind, max_length=32).save(folder)
    weights = {"reranker": 0.0, "biencoder": 0.7, "first_stage": 0.3}
    bi_only = Selection({"method": "zscore", "weights": weights, "biencoder_model": "x"}, None, "zscore", [])
    shipped = shipped_model(bi_only, str(reranker), str(biencoder))
    assert shipped == str(biencoder)
    _store_fusion(shipped, bi_only, "tiny (val)", str(biencoder))
    # shipped as the model folder, the bi-encoder's own score is the fusion's reranker component
    stored = ModelMetadata.load(biencoder).fusion
    assert stored["weights"] == {"reranker": 0.7, "first_stage": 0.3} and "biencoder_model" not in stored
    assert ModelMetadata.load(reranker).fusion is None
    both = Selection({"method": "rrf", "weights": {"reranker": 0.5, "biencoder": 0.5}}, None, "rrf", [])
    assert shipped_model(both, str(reranker), str(biencoder)) == str(reranker)
    _store_fusion(str(reranker), both, "tiny (val)", str(biencoder))
    assert ModelMetadata.load(reranker).fusion["biencoder_model"] == str(biencoder.resolve())
