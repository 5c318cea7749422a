"""Scoring a batch in length-sorted chunks is the same computation as scoring it whole."""

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from rankwright.losses import BinaryCrossEntropyLoss
from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.training.sampling import Example, Pool, collate_examples
from rankwright.training.trainer import RerankTrainer


class _Trainer:
    """Only what compute_loss reads."""

    compute_loss = RerankTrainer.compute_loss

    def __init__(self, head):
        self.head = head
        self.rerank_loss = BinaryCrossEntropyLoss()
        self.pairs_seen = 0


def _pool():
    docs = ["x", "a much longer document " * 6, "mid size doc here", "tiny", "another long one " * 4, "short doc"]
    return Pool(
        queries=["drill", "a longer query about sofas"],
        docs=docs,
        pair_query=None,
        pair_doc=None,
        pair_label=None,
        pair_hard=None,
        pair_positive=None,
        negative_label=0.0,
        by_query=[],
    )


def test_bucketed_batch_gives_the_same_loss_and_gradients(tiny_bert):
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=1).eval()
    head = CrossEncoderHead(AutoTokenizer.from_pretrained(tiny_bert), max_length=64)
    examples = [Example(0, [0, 1, 2], [1.0, 0.0, 0.0]), Example(1, [3, 4, 5], [0.0, 1.0, 0.0])]
    pool = _pool()
    results = []
    for buckets in (1, 3):
        batch = collate_examples(examples, pool, head, torch.float32, buckets=buckets)
        assert len(batch["features"]) == buckets
        model.zero_grad()
        loss = _Trainer(head).compute_loss(model, batch)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((loss.detach(), grads))
    (loss1, g1), (loss3, g3) = results
    assert torch.allclose(loss1, loss3, atol=1e-6)
    assert g1.keys() == g3.keys()
    assert max((g1[n] - g3[n]).abs().max().item() for n in g1) <= 1e-5
    # Chunks really are padded to different lengths: less padding than one chunk.
    batch = collate_examples(examples, pool, head, torch.float32, buckets=3)
    widths = [f["input_ids"].shape[1] for f in batch["features"]]
    assert widths == sorted(widths) and widths[0] < widths[-1]


def test_a_packed_batch_gives_the_padded_loss_and_gradients_through_the_trainer(tiny_bert):
    """The collator's packed batch (pairs shortest first, attention in 3 groups) through
    RerankTrainer.compute_loss: the scores go back to their pairs' places."""
    from rankwright.models.packing import enable_packing

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=1).eval()
    enable_packing(model)
    head = CrossEncoderHead(AutoTokenizer.from_pretrained(tiny_bert), max_length=64)
    examples = [Example(0, [0, 1, 2], [1.0, 0.0, 0.0]), Example(1, [3, 4, 5], [0.0, 1.0, 0.0])]
    results = []
    for pack in (False, True):
        batch = collate_examples(examples, _pool(), head, torch.float32, buckets=1 if not pack else 3, pack=pack)
        assert ("pair_lengths" in batch["features"][0]) == pack
        model.zero_grad()
        loss = _Trainer(head).compute_loss(model, batch)
        loss.backward()
        results.append((loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (padded, g_padded), (packed, g_packed) = results
    torch.testing.assert_close(packed, padded, atol=1e-6, rtol=1e-6)
    assert max((g_packed[n] - g_padded[n]).abs().max().item() for n in g_padded) <= 1e-5
