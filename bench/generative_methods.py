"""The scoring methods of ``generative_scoring.py`` (each ``load_*`` returns a scorer,
``(queries, docs) -> yes-minus-no logits``, and what it loaded), the prompt they share,
sentence-transformers' chat template for it, the de-quantised model folder and the
token statistics of the pairs."""

from __future__ import annotations

import gc
import json
import re
from pathlib import Path

import numpy as np

INSTRUCTION = "Given a product search query, judge whether the product is relevant to it"


def prompt_config():
    from rankwright.models.prompts import PromptConfig

    return PromptConfig(template="chat", instruction=INSTRUCTION)


def generative_head(tokenizer, max_length: int):
    from rankwright.models.generative import GenerativeHead
    from rankwright.models.prompts import build_prompt

    return GenerativeHead(tokenizer, build_prompt(prompt_config(), tokenizer), max_length)


def st_chat_template(prompt) -> str:
    """A chat template for ST's (query, document) messages that renders exactly
    ``prompt.render(query, document)``. Every literal piece is a Jinja string expression
    (not template text), so the tokenizer's trim_blocks/lstrip_blocks cannot touch it."""
    marks = {"\x00RW-QUERY\x00": "query", "\x00RW-DOCUMENT\x00": "document"}
    rendered = prompt.render(*marks)
    if any(rendered.count(mark) != 1 for mark in marks):
        raise ValueError("the rendered prompt does not hold the query and the document once each")
    pieces = re.split("(" + "|".join(map(re.escape, marks)) + ")", rendered)
    # ensure_ascii=False: Jinja decodes string literals with unicode-escape, which cannot
    # rejoin the surrogate pairs json would write for characters outside the BMP.
    body = "".join("{{ " + (marks[p] if p in marks else json.dumps(p, ensure_ascii=False)) + " }}" for p in pieces if p)
    # ST passes message content flat (a string) or structured ([{"type": "text", "text": ...}]).
    take = (
        '{%- set {v} = (messages | selectattr("role", "eq", "{v}") | first)["content"] -%}'
        '{%- if {v} is not string %}{% set {v} = {v}[0]["text"] %}{% endif -%}'
    )
    return take.replace("{v}", "query") + take.replace("{v}", "document") + body


def load_rankwright(settings: dict) -> tuple:
    from rankwright.inference.reranker import Reranker

    reranker = Reranker.from_pretrained(settings["gguf"], device="cpu", prompt=prompt_config(), dtype="float32")
    # A plain model folder gets max_length min(tokenizer limit, 8192); from_pretrained has
    # no argument for it, so the head (which truncates) is set directly.
    reranker.head.max_length = reranker.metadata.max_length = settings["max_length"]
    batch_size = settings["batch_size"]
    # Record what the head did per batch where it says so (shared-prefix scoring, in
    # versions that have it): one attribute read per batch, nothing measurable.
    shared: list[int] = []
    if hasattr(reranker.head, "last_shared_prefix"):
        head_scores = reranker.head.scores

        def recording_scores(model, batch):
            out = head_scores(model, batch)
            shared.append(reranker.head.last_shared_prefix)
            return out

        reranker.head.scores = recording_scores

    def score(queries: list[str], docs: list[str]) -> np.ndarray:
        shared.clear()
        return reranker.logits(queries, docs, batch_size=batch_size, progress=False)

    info = {
        "loaded_from": settings["gguf"],
        "label_token_ids": reranker.head.label_ids,
        "dtype": str(reranker.model.dtype),
        # rankwright's head options, whatever this version has (e.g. shared-prefix scoring)
        "head_options_at_load": {
            k: v for k, v in vars(reranker.head).items() if isinstance(v, bool | int | float | str)
        },
        # filled by the last scoring run (the last repeat)
        "shared_prefix_tokens_per_batch": shared,
    }
    return score, info


def load_naive(settings: dict, keep_last_only: bool) -> tuple:
    import torch
    from transformers import AutoModelForCausalLM

    from rankwright.models.loading import load_tokenizer

    folder, batch_size, use_cache = settings["model_folder"], settings["batch_size"], settings["naive_use_cache"]
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    head = generative_head(load_tokenizer(folder), settings["max_length"])
    label_ids = head.label_ids
    extra = {"logits_to_keep": 1} if keep_last_only else {}
    if not use_cache:
        extra["use_cache"] = False

    def score(queries: list[str], docs: list[str]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(docs), batch_size):
                features = head.encode(queries[start : start + batch_size], docs[start : start + batch_size])
                # left padding (the head sets it), no position_ids: what a user passes
                batch = head.tokenizer.pad(features, padding=True, return_tensors="pt")
                # one expression: the model's output (with (a)'s full logits) must not stay
                # alive while the next batch runs, or the peak would count two of them
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **extra).logits
                logits = logits[:, -1, label_ids]
                out.append((logits[:, 0] - logits[:, 1]).float().numpy())
        return np.concatenate(out)

    info = {
        "loaded_from": folder,
        "label_token_ids": label_ids,
        "dtype": str(model.dtype),
        "use_cache": model.config.use_cache if use_cache else False,
    }
    return score, info


def load_sentence_transformers(settings: dict, queries: list[str], docs: list[str]) -> tuple:
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder.modules import LogitScore

    from rankwright.models.loading import load_tokenizer

    folder, batch_size = settings["model_folder"], settings["batch_size"]
    model = CrossEncoder(
        folder,
        device="cpu",
        max_length=settings["max_length"],
        model_kwargs={"dtype": torch.float32},
        activation_fn=torch.nn.Identity(),
    )
    head = generative_head(load_tokenizer(folder), settings["max_length"])
    model[0].processor.chat_template = st_chat_template(head.prompt)
    logit_score = next(m for m in model if isinstance(m, LogitScore))
    st_ids = [logit_score.true_token_id, logit_score.false_token_id]

    # Same prompts? ST's token ids (unpadded) against rankwright's, for every pair.
    expected = [f["input_ids"] for f in head.encode(queries, docs)]
    differing = 0
    for start in range(0, len(docs), batch_size):
        stop = start + batch_size
        features = model.preprocess(list(zip(queries[start:stop], docs[start:stop], strict=True)))
        want_ids = expected[start:stop]
        for ids, mask, want in zip(
            features["input_ids"].tolist(), features["attention_mask"].tolist(), want_ids, strict=True
        ):
            differing += [t for t, m in zip(ids, mask, strict=True) if m] != want

    def score(queries: list[str], docs: list[str]) -> np.ndarray:
        pairs = list(zip(queries, docs, strict=True))
        return model.predict(pairs, batch_size=batch_size, show_progress_bar=False, convert_to_numpy=True)

    info = {
        "loaded_from": folder,
        "label_token_ids": st_ids,
        "dtype": str(model.model.dtype),
        "pairs_whose_token_ids_differ_from_rankwright": differing,
        "chat_template": model[0].processor.chat_template,
    }
    return score, info


def prepare_model_folder(gguf: str, folder: Path) -> None:
    """De-quantise the GGUF once with rankwright's loader and save it (reused while the
    GGUF file is unchanged)."""
    stat = Path(gguf).stat()
    stamp = {"gguf": str(Path(gguf).resolve()), "size": stat.st_size, "mtime": stat.st_mtime}
    stamp_file = folder / "rankwright-bench-source.json"
    if stamp_file.exists() and json.loads(stamp_file.read_text()) == stamp:
        return
    from rankwright.models.loading import load_causal_lm

    model, tokenizer = load_causal_lm(gguf, dtype="float32")
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    stamp_file.write_text(json.dumps(stamp))
    del model
    gc.collect()


def token_statistics(head, queries: list[str], docs: list[str], batch_size: int) -> dict:
    """Prompt lengths and the tokens a batch of each order pads to."""
    import copy

    lengths = np.array([len(f["input_ids"]) for f in head.encode(queries, docs)])
    whole = copy.copy(head)
    whole.max_length = 10**9
    untruncated = np.array([len(f["input_ids"]) for f in whole.encode(queries, docs)])

    def padded(order: np.ndarray) -> int:
        return int(
            sum(
                lengths[order[i : i + batch_size]].max() * len(order[i : i + batch_size])
                for i in range(0, len(order), batch_size)
            )
        )

    return {
        "prompt_tokens_min": int(lengths.min()),
        "prompt_tokens_median": float(np.median(lengths)),
        "prompt_tokens_max": int(lengths.max()),
        "pairs_truncated_to_max_length": int((untruncated > head.max_length).sum()),
        "real_tokens": int(lengths.sum()),
        "padded_tokens_input_order": padded(np.arange(len(lengths))),
        "padded_tokens_length_sorted": padded(np.argsort(-lengths, kind="stable")),
    }
