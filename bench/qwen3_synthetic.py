"""The synthetic model and data of ``gpu_generative.py``: a randomly initialised Qwen3
(its published configuration, or a tiny one for a CPU smoke test), a word-level
tokenizer (``t0`` .. ``tN`` map 1:1 to token ids), relevance pairs of synthetic words
and a custom prompt of them; and tokens per pair as rankwright's training path builds them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerFast, Qwen3Config

#: Qwen/Qwen3-0.6B config.json (architecture fields; the weights here are random).
QWEN3_06B = {
    "vocab_size": 151936,
    "hidden_size": 1024,
    "intermediate_size": 3072,
    "num_hidden_layers": 28,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_act": "silu",
    "max_position_embeddings": 40960,
    "rope_theta": 1_000_000.0,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "bos_token_id": 151643,
    "eos_token_id": 151645,
}
#: Word tokens t0 .. t{n-1} then the special tokens, as Qwen3's tokenizer numbers them
#: (151643 regular tokens, <|endoftext|> = 151643, <|im_start|>, <|im_end|> = 151645);
#: the embedding matrix is padded beyond them to ``vocab_size`` as in the real model.
QWEN3_WORDS = 151643
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
TINY = {
    **QWEN3_06B,
    "vocab_size": 16000,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "bos_token_id": 15900,
    "eos_token_id": 15902,
}
TINY_WORDS = 15900
LABEL_WORDS = ["t9693", "t2152"]  # [positive, negative]


def qwen3_config(spec: dict[str, Any]) -> Qwen3Config:
    spec = dict(spec)
    theta = spec.pop("rope_theta")
    # transformers 5 keeps RoPE settings in rope_parameters (rope_theta is the legacy name).
    if "rope_parameters" in Qwen3Config.__init__.__code__.co_varnames:
        spec["rope_parameters"] = {"rope_type": "default", "rope_theta": theta}
    else:
        spec["rope_theta"] = theta
    config = Qwen3Config(**spec)
    config.pad_token_id = spec["bos_token_id"]  # <|endoftext|>, as Qwen3's tokenizer pads
    return config


def word_tokenizer(n_words: int) -> PreTrainedTokenizerFast:
    """Whitespace-split words ``t0`` .. ``t{n_words-1}`` map to ids 0 .. n_words-1."""
    vocab = {f"t{i}": i for i in range(n_words)}
    vocab.update({tok: n_words + i for i, tok in enumerate(SPECIAL_TOKENS)})
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.add_special_tokens(SPECIAL_TOKENS)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<|endoftext|>",
        eos_token="<|im_end|>",
        model_max_length=40960,
    )


def non_embedding_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(all parameters, parameters outside the input embedding) -- tied weights counted once."""
    total = sum(p.numel() for p in model.parameters())
    embedding = model.get_input_embeddings().weight.numel()
    return total, total - embedding


def build_model_folder(folder: Path, spec: dict[str, Any], n_words: int, dtype: torch.dtype) -> dict[str, Any]:
    config = qwen3_config(spec)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    total, non_embedding = non_embedding_parameters(model)
    model.save_pretrained(folder)
    del model
    tokenizer = word_tokenizer(n_words)
    tokenizer.save_pretrained(folder)
    # The training path loads the tokenizer with AutoTokenizer: check it still maps 1:1.
    loaded = AutoTokenizer.from_pretrained(folder)
    probe = loaded("t123 t98 t4410", add_special_tokens=False)["input_ids"]
    if probe != [123, 98, 4410] or not loaded.is_fast:
        raise RuntimeError(f"saved word tokenizer does not round-trip: {type(loaded).__name__} gave {probe}")
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return {"parameters": total, "non_embedding_parameters": non_embedding, "tokenizer_class": type(loaded).__name__}


def words(rng: np.random.Generator, n_words: int, count: int) -> str:
    return " ".join(f"t{i}" for i in rng.integers(0, n_words, size=count))


def doc_lengths(rng: np.random.Generator, count: int) -> np.ndarray:
    """Document lengths in tokens: log-normal, median ~180, mean ~200, 30..600."""
    return np.clip(rng.lognormal(np.log(180), 0.45, size=count), 30, 600).astype(int)


def write_data(path: Path, rng: np.random.Generator, n_words: int, queries: int, per_query: int) -> list[dict]:
    rows = []
    for q in range(queries):
        query = words(rng, n_words, int(rng.integers(5, 12)))  # ~8 tokens
        positives = set(rng.choice(per_query, size=int(rng.integers(1, 3)), replace=False).tolist())
        for d, length in enumerate(doc_lengths(rng, per_query)):
            rows.append(
                {
                    "query_id": f"q{q}",
                    "query": query,
                    "doc_id": f"q{q}d{d}",
                    "doc": words(rng, n_words, int(length)),
                    "label": int(d in positives),
                }
            )
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    return rows


def prompt_config(rng: np.random.Generator, n_words: int) -> dict[str, Any]:
    """A custom prompt of synthetic words: a ~60-token system-prompt stand-in, a body
    laid out like Qwen3-Reranker's (instruction, query, document) and a 5-token suffix.
    Words are space-separated so no two ever merge across the pieces."""
    return {
        "template": "custom",
        "prefix": words(rng, n_words, 60) + " ",
        "suffix": " " + words(rng, n_words, 5),
        "instruction": words(rng, n_words, 14),
        "body": "t11 t12 {instruction} t13 {query} t14 {document}",
        "label_words": LABEL_WORDS,
    }


def pair_lengths(model_dir: Path, prompt: dict[str, Any], rows: list[dict], max_length: int) -> tuple[np.ndarray, int]:
    """Tokens per pair as the training path builds them (prompt included, documents cut
    to ``max_length``), with rankwright's own head and the saved tokenizer; and the
    prompt's own tokens per pair."""
    from rankwright.models.generative import GenerativeHead
    from rankwright.models.prompts import PromptConfig, build_prompt

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    head = GenerativeHead(tokenizer, build_prompt(PromptConfig(**prompt), tokenizer), max_length)
    features = head.encode([r["query"] for r in rows], [r["doc"] for r in rows])
    unk = tokenizer.unk_token_id
    if any(unk in f["input_ids"] for f in features):
        raise RuntimeError("synthetic prompt produced unknown tokens: pieces merged across a boundary")
    return np.array([len(f["input_ids"]) for f in features]), head.pair_overhead
