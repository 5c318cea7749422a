"""Packed batches (pairs end to end, no padding) give the padded batch's scores, loss and
gradients to 1e-5: cross-encoders (BERT, RoBERTa positions) and generative heads
(Qwen3, Llama), plain and with LoRA."""

from __future__ import annotations

import pytest
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

from rankwright.losses import build_loss
from rankwright.models.cross_encoder import CrossEncoderHead
from rankwright.models.generative import GenerativeHead
from rankwright.models.packing import PACKED_ATTENTION, PackedLayout, pack, supports_packing
from rankwright.models.prompts import PromptConfig, build_prompt

QUERIES = ["cordless drill", "desk lamp", "garden hose 50 ft", "sofa", "a much longer query about a table saw"]
DOCS = [
    "Milwaukee M18 cordless drill kit with two batteries and charger",
    "LED desk lamp",
    "a kettle",
    "three seat fabric sofa in grey with wooden legs and two cushions",
    "10 in. table saw",
]
LABELS = torch.tensor([[1.0, 0.0, 2.0, 0.0, 1.0]])


def _loss_and_grads(model, head, batch) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    model.zero_grad()
    scores = head.scores(model, batch)
    grid = scores[None] if scores.dim() == 1 else scores[None, :, 0] - scores[None, :, 1]
    loss = build_loss("ranknet")(grid, LABELS, torch.ones_like(LABELS, dtype=torch.bool))
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    return scores.detach(), loss.detach(), grads


def _assert_same(model, head, features, groups: int = 1):
    padded = _loss_and_grads(model, head, head.pad(features))
    packed = _loss_and_grads(model, head, pack(features, groups))
    torch.testing.assert_close(packed[0], padded[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(packed[1], padded[1], atol=1e-5, rtol=1e-5)
    assert packed[2].keys() == padded[2].keys() and len(padded[2]) > 0
    for name, grad in padded[2].items():
        torch.testing.assert_close(packed[2][name], grad, atol=1e-5, rtol=1e-5, msg=name)


def _tiny_roberta(tokenizer) -> transformers.PreTrainedModel:
    config = transformers.RobertaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=130,
        pad_token_id=tokenizer.pad_token_id,
        num_labels=1,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    return transformers.RobertaForSequenceClassification(config)


@pytest.mark.parametrize("kind", ["bert", "roberta"])
@pytest.mark.parametrize("num_labels", [1, 3])
@pytest.mark.parametrize("groups", [1, 2, 5])
def test_a_packed_cross_encoder_batch_has_the_padded_loss_and_gradients(tiny_bert, kind, num_labels, groups):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    torch.manual_seed(0)
    if kind == "bert":
        model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=num_labels)
    else:
        model = _tiny_roberta(tokenizer)
        model.config.num_labels = num_labels
        model.classifier.out_proj = torch.nn.Linear(32, num_labels)
    model.eval()  # no dropout: both layouts must see the same network
    head = CrossEncoderHead(tokenizer, 64, num_labels=num_labels)
    assert head.can_pack(model)
    features = head.encode(QUERIES, DOCS)
    assert len({len(f["input_ids"]) for f in features}) > 2  # the padded batch does pad
    _assert_same(model, head, features, groups)


@pytest.mark.parametrize(
    "fixture,prompt",
    [
        ("tiny_llama", PromptConfig(template="custom", prefix="{system}\n", suffix="\nanswer:")),
        ("tiny_qwen3", PromptConfig()),
    ],
)
@pytest.mark.parametrize("classes", [None, ["E", "S", "C", "I"]])
@pytest.mark.parametrize("groups", [1, 3])
def test_a_packed_generative_batch_has_the_padded_loss_and_gradients(request, fixture, prompt, classes, groups):
    folder = request.getfixturevalue(fixture)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    head = GenerativeHead(
        tokenizer, build_prompt(prompt, tokenizer, classes), 96, num_labels=len(classes) if classes else 1
    )
    assert head.can_pack(model)
    _assert_same(model, head, head.encode(QUERIES, DOCS), groups)


def test_a_packed_lora_model_has_the_padded_gradients_on_its_adapters(tiny_qwen3):
    peft = pytest.importorskip("peft")
    tokenizer = AutoTokenizer.from_pretrained(tiny_qwen3)
    base = AutoModelForCausalLM.from_pretrained(tiny_qwen3, dtype=torch.float32)
    config = peft.LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    model = peft.get_peft_model(base, config).eval()
    head = GenerativeHead(tokenizer, build_prompt(PromptConfig(), tokenizer, None), 96)
    assert supports_packing(model)
    _assert_same(model, head, head.encode(QUERIES, DOCS))


def test_the_packed_attention_is_off_after_the_call(tiny_bert):
    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_bert, num_labels=1).eval()
    before = model.config._attn_implementation
    head = CrossEncoderHead(tokenizer, 64)
    with torch.no_grad():
        head.scores(model, pack(head.encode(QUERIES, DOCS)))
    assert model.config._attn_implementation == before != PACKED_ATTENTION
    assert not model.bert.encoder._forward_hooks


def test_the_layout_puts_each_token_in_its_pairs_row():
    layout = PackedLayout.of(torch.tensor([3, 1, 2]))
    assert layout.positions().tolist() == [[0, 1, 2, 0, 0, 1]]
    assert layout.starts.tolist() == [0, 3, 4] and layout.ends.tolist() == [2, 3, 5]
    (group,) = layout.groups
    assert (group.first, group.last, group.width, group.pairs) == (0, 6, 3, 3)
    assert group.slots.tolist() == [0, 1, 2, 3, 6, 7]
    x = torch.arange(6.0).view(1, 1, 6, 1)
    assert group.side_by_side(x)[:, 0, :, 0].tolist() == [[0, 1, 2], [3, 0, 0], [4, 5, 0]]
    causal = group.mask(causal=True)[2, 0]
    assert causal.tolist() == [[True, False, False], [True, True, False], [True, True, False]]


def test_attention_groups_pad_consecutive_pairs_to_their_own_longest():
    layout = PackedLayout.of(torch.tensor([1, 2, 2, 5, 6]), groups=2)
    assert [(g.first, g.last, g.pairs, g.width) for g in layout.groups] == [(0, 5, 3, 2), (5, 16, 2, 6)]
    x = torch.arange(16.0).view(1, 1, 16, 1)
    second = layout.groups[1].side_by_side(x)[:, 0, :, 0]
    assert second.tolist() == [[5, 6, 7, 8, 9, 0], [10, 11, 12, 13, 14, 15]]
    assert layout.groups[1].tokens(second[:, :, None, None]).flatten().tolist() == list(range(5, 16))


def test_pack_lays_the_pairs_end_to_end_without_their_masks():
    batch = pack(
        [
            {"input_ids": [1, 2], "token_type_ids": [0, 1], "attention_mask": [1, 1]},
            {"input_ids": [3], "token_type_ids": [0], "attention_mask": [1]},
        ]
    )
    assert set(batch) == {"input_ids", "token_type_ids", "pair_lengths", "attention_groups"}
    assert batch["input_ids"].tolist() == [[1, 2, 3]] and batch["pair_lengths"].tolist() == [2, 1]
