"""Generative rerankers: a causal LM reads ``prefix + body + suffix`` and the score
comes from the logits of label tokens (``yes``/``no``, or one word per class) at the
last position.

Only the label-token rows of the LM head are ever multiplied: the model's output
embedding keeps its weights (names, tying, peft and DDP wrapping are untouched) but
computes ``hidden @ W[label_ids].T``, so no ``[batch, length, vocab]`` (or even
``[batch, vocab]``) logits tensor exists, in training or inference. The model's own
post-processing of logits (e.g. Gemma's soft-capping) still applies.

Inputs are left-padded so the last position is every row's answer position, and
position ids count real tokens only, so a pair scores the same in any batch.

At inference (no gradients) the tokens every pair of a batch starts with -- the
system prompt, the instruction, often more -- are run once, and their key/value cache
is shared by the batch: the pairs only compute their own tokens. This is exact (a
causal model's prefix states do not depend on what follows) and saves most of the work
when the prompt is long and the pairs are short, as in product search.
"""

from __future__ import annotations

import bisect
import inspect
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from rankwright.models.packing import is_packed, layout_of, packed_forward, supports_packing, unwrap
from rankwright.models.prompts import Prompt, PromptError
from rankwright.models.truncation import pair_budget, precut, warn_cut, was_precut

log = logging.getLogger(__name__)


def label_token_ids(tokenizer: PreTrainedTokenizerBase, words: Sequence[str]) -> list[int]:
    """The first token of each label word; the first tokens must be distinct."""
    ids, multi = [], []
    for word in words:
        pieces = tokenizer.encode(word, add_special_tokens=False)
        if not pieces:
            raise PromptError(f"label word {word!r} encodes to no token")
        if len(pieces) > 1:
            multi.append(f"{word!r}={pieces}")
        ids.append(pieces[0])
    clashes = {i for i in ids if ids.count(i) > 1}
    if clashes:
        same = [w for w, i in zip(words, ids, strict=True) if i in clashes]
        raise PromptError(
            f"label words {same} start with the same token ({sorted(clashes)}): choose words whose first tokens differ"
        )
    if multi:
        log.info("label words of several tokens are read by their first token: %s", ", ".join(multi))
    log.info("label tokens: %s", ", ".join(f"{w!r}={i}" for w, i in zip(words, ids, strict=True)))
    return ids


def causal_lm_of(model: nn.Module) -> PreTrainedModel:
    """The transformers causal LM inside DDP / peft wrappers."""
    return unwrap(model)


def _label_rows_forward(self: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    ids = self.rankwright_label_ids.to(self.weight.device)
    bias = self.bias[ids] if getattr(self, "bias", None) is not None else None
    return F.linear(hidden, self.weight[ids], bias)


def _cache_argument(model: nn.Module) -> str:
    """The forward argument that takes a key/value cache: ``cache`` in newer
    transformers, ``past_key_values`` before."""
    parameters = inspect.signature(causal_lm_of(model).forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"


def restrict_to_label_rows(model: nn.Module, ids: Sequence[int]) -> None:
    """Make the LM head compute only the rows of ``ids`` (idempotent)."""
    head = causal_lm_of(model).get_output_embeddings()
    if head is None or not isinstance(getattr(head, "weight", None), torch.Tensor) or head.weight.dim() != 2:
        raise TypeError(f"{type(model).__name__}: the LM head is not a linear layer; cannot read label tokens from it")
    wanted = torch.tensor(list(ids), dtype=torch.long)
    current = getattr(head, "rankwright_label_ids", None)
    if current is not None and torch.equal(current, wanted):
        return
    head.rankwright_label_ids = wanted
    # An instance attribute: the parameters and their names stay the module's own.
    head.forward = _label_rows_forward.__get__(head)


#: fewer common leading tokens than this are not worth a separate prefix pass
MIN_SHARED_PREFIX = 8


@dataclass(frozen=True)
class _Span:
    """Token positions [first, end) of a text inside a tokenized body."""

    first: int
    end: int

    @property
    def tokens(self) -> int:
        return self.end - self.first


def _token_span(offsets: Sequence[tuple[int, int]], starts: list[int], start: int, end: int) -> _Span:
    """The tokens whose characters lie within [start, end)."""
    first = bisect.bisect_left(starts, start)
    last = first
    while last < len(offsets) and offsets[last][1] <= end and offsets[last][0] >= start:
        last += 1
    return _Span(first, last)


def _cut(ids: list[int], drops: list[tuple[int, int]]) -> list[int]:
    """``ids`` without the positions of the (disjoint) ranges [start, end) in ``drops``."""
    kept, at = [], 0
    for start, end in sorted(d for d in drops if d[0] < d[1]):
        kept += ids[at:start]
        at = end
    return ids if at == 0 else kept + ids[at:]


class GenerativeHead:
    """Turns pairs into left-padded prompt token ids and model outputs into scores:
    the logit difference positive - negative (one output), or ``[N, C]`` label logits."""

    model_type = "generative"

    def __init__(self, tokenizer: PreTrainedTokenizerBase, prompt: Prompt, max_length: int, num_labels: int = 1):
        if not getattr(tokenizer, "is_fast", False):
            raise TypeError("generative rerankers need a fast tokenizer (offsets locate the document to truncate)")
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.max_length = max_length
        self.label_ids = label_token_ids(tokenizer, prompt.label_words)
        expected = 2 if num_labels == 1 else num_labels
        if len(self.label_ids) != expected:
            raise PromptError(
                f"{num_labels} model output(s) need {expected} label words, got {prompt.label_words}"
                + (" ([positive, negative])" if num_labels == 1 else "")
            )
        self.num_labels = num_labels
        #: run the batch's common leading tokens once at inference (exact; see the module docstring)
        self.share_prefix = True
        self.last_shared_prefix = 0
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.prefix_ids = tokenizer.encode(prompt.prefix, add_special_tokens=False)
        bos = tokenizer.bos_token_id
        adds_bos = bos is not None and tokenizer("x")["input_ids"][:1] == [bos]
        if prompt.template == "custom" and adds_bos and self.prefix_ids[:1] != [bos]:
            self.prefix_ids = [bos, *self.prefix_ids]
        self.suffix_ids = tokenizer.encode(prompt.suffix, add_special_tokens=False)
        empty = self._encode_body([""], [""])[0][0]
        #: tokens of a pair besides its query and document (for length estimates)
        self.pair_overhead = len(self.prefix_ids) + len(self.suffix_ids) + len(empty)

    def _encode_body(self, queries: Sequence[str], docs: Sequence[str]) -> list[tuple[list[int], _Span, _Span]]:
        """Body token ids, with the spans [first, end) of the tokens inside the query and
        inside the document (a token across a span's edge is in neither)."""
        parts = [self.prompt.split_body(q, d) for q, d in zip(queries, docs, strict=True)]
        texts = ["".join(p) for p in parts]
        enc = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        out = []
        for query, (before, doc, _), ids, offsets in zip(
            queries, parts, enc["input_ids"], enc["offset_mapping"], strict=True
        ):
            starts = [s for s, _ in offsets]
            doc_start = len(before)
            query_start = self._query_start(before, doc)
            out.append(
                (
                    ids,
                    _token_span(offsets, starts, query_start, query_start + len(query)),
                    _token_span(offsets, starts, doc_start, doc_start + len(doc)),
                )
            )
        return out

    def _room(self, ids: list[int], query: _Span, doc: _Span) -> int:
        """Query and document tokens the pair of body ``ids`` can hold."""
        prompt = len(self.prefix_ids) + len(self.suffix_ids) + len(ids) - query.tokens - doc.tokens
        return self.max_length - prompt

    def _query_start(self, before: str, doc: str) -> int:
        """Where the query starts in the body text ``before + doc + after``."""
        head, _ = self.prompt.body.split("{document}")
        if "{query}" in head:
            return len(head.split("{query}", 1)[0].format(instruction=self.prompt.instruction))
        tail = self.prompt.body.split("{document}", 1)[1]
        return len(before) + len(doc) + len(tail.split("{query}", 1)[0].format(instruction=self.prompt.instruction))

    def encode(self, queries: Sequence[str], docs: Sequence[str]) -> list[dict[str, list[int]]]:
        """Token ids per pair, unpadded. Document tokens are cut to fit ``max_length``;
        query tokens only when the query alone fills it (see rankwright.models.truncation);
        the prompt never."""
        queries, docs = list(queries), list(docs)
        cut_queries = [precut(q, self.max_length) for q in queries]
        cut_docs = [precut(d, self.max_length) for d in docs]
        bodies = self._encode_body(cut_queries, cut_docs)
        # A precut text with fewer tokens than the room may have lost tokens the pair had room for.
        again = [
            i
            for i, (ids, query, doc) in enumerate(bodies)
            if (was_precut(queries[i], cut_queries[i]) and query.tokens < self._room(ids, query, doc))
            or (was_precut(docs[i], cut_docs[i]) and doc.tokens < self._room(ids, query, doc))
        ]
        if again:
            redone = self._encode_body([queries[i] for i in again], [docs[i] for i in again])
            for i, body in zip(again, redone, strict=True):
                bodies[i] = body
        features, overlong, long_queries = [], 0, 0
        for ids, query, doc in bodies:
            room = self._room(ids, query, doc)
            keep_query, keep_doc = pair_budget(query.tokens, doc.tokens, room)
            overlong += room < 0
            long_queries += keep_query < query.tokens
            ids = _cut(ids, [(query.first + keep_query, query.end), (doc.first + keep_doc, doc.end)])
            full = self.prefix_ids + ids + self.suffix_ids
            features.append({"input_ids": full, "attention_mask": [1] * len(full)})
        warn_cut(
            "%d queries leave no room for a document in max_length=%d; they are cut", long_queries, self.max_length
        )
        warn_cut(
            "%d pairs exceed max_length=%d without their query and document (the prompt is never cut); "
            "they are scored on the prompt alone and longer than max_length",
            overlong,
            self.max_length,
        )
        return features

    def pad(self, features: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer.pad(features, padding=True, return_tensors="pt")
        batch["position_ids"] = (batch["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        return batch

    def scores(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        restrict_to_label_rows(model, self.label_ids)
        logits = None
        self.last_shared_prefix = 0
        if is_packed(batch):
            logits = self._packed_logits(model, batch)
        elif self.share_prefix and not torch.is_grad_enabled() and len(batch["input_ids"]) > 1:
            logits = self._scores_sharing_prefix(model, batch)
        if logits is None:
            out = model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                position_ids=batch["position_ids"],
                use_cache=False,
                logits_to_keep=1,
            )
            logits = out.logits[:, -1, :]
        return logits[:, 0] - logits[:, 1] if self.num_labels == 1 else logits

    def can_pack(self, model: nn.Module) -> bool:
        return supports_packing(model)

    def _packed_logits(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        """Label logits at each pair's last token of a packed batch."""
        layout = layout_of(batch)
        return packed_forward(model, batch, layout, use_cache=False, logits_to_keep=layout.ends).logits[0]

    def _scores_sharing_prefix(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor | None:
        """Label logits with the batch's common leading tokens run once (see the module
        docstring); None when there is too little to share or the model's cache cannot
        be repeated over the batch."""
        ids, mask = batch["input_ids"], batch["attention_mask"]
        n, width = ids.shape
        lengths = mask.sum(1)
        starts = width - lengths  # left padding: row i's tokens are ids[i, starts[i]:]
        shortest = int(lengths.min())
        aligned = ids.gather(1, starts[:, None] + torch.arange(shortest, device=ids.device)[None])
        same = (aligned == aligned[:1]).all(0).long().cumprod(0)
        shared = min(int(same.sum()), shortest - 1)  # every row keeps one token of its own
        if shared < MIN_SHARED_PREFIX:
            return None
        try:
            first = model(input_ids=aligned[:1, :shared], use_cache=True, logits_to_keep=1)
            cache = getattr(first, "cache", None) or first.past_key_values  # the name changed in transformers 5.x
            cache.batch_repeat_interleave(n)
        except (AttributeError, NotImplementedError, TypeError) as err:
            log.warning("prefix sharing is off for this model (%s); scoring whole prompts", err)
            self.share_prefix = False
            return None
        # Row i's own tokens sit at columns >= starts[i] of ids[:, shared:].
        rest_mask = (torch.arange(width - shared, device=ids.device)[None] >= starts[:, None]).long()
        out = model(
            input_ids=ids[:, shared:],
            attention_mask=torch.cat([mask.new_ones(n, shared), rest_mask], dim=1),
            position_ids=shared + (rest_mask.cumsum(-1) - 1).clamp(min=0),
            **{_cache_argument(model): cache},
            use_cache=True,
            logits_to_keep=1,
        )
        self.last_shared_prefix = shared
        return out.logits[:, -1, :]
