"""The generative scoring path: label-row logits equal the full LM head's, no vocabulary
sized logits are made, padding does not change a score, and gradients reach LoRA
weights through every loss."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rankwright.losses import build_loss
from rankwright.models.generative import GenerativeHead, causal_lm_of, restrict_to_label_rows
from rankwright.models.prompts import PromptConfig, build_prompt

QUERIES = ["cordless drill", "desk lamp", "garden hose 50 ft", "sofa"]
DOCS = [
    "Milwaukee M18 cordless drill kit with two batteries and charger",
    "LED desk lamp",
    "a kettle",
    "three seat fabric sofa in grey with wooden legs and two cushions",
]
CUSTOM = PromptConfig(template="custom", prefix="{system}\n", suffix="\nanswer:")


def _load(folder):
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    return model, tok


def _reference(model, head, features) -> torch.Tensor:
    """Full-vocabulary logits of each pair alone (no padding), label columns taken after."""
    rows = []
    with torch.no_grad():
        for f in features:
            logits = model(input_ids=torch.tensor([f["input_ids"]])).logits[0, -1]
            rows.append(logits[head.label_ids])
    rows = torch.stack(rows)
    return rows[:, 0] - rows[:, 1] if head.num_labels == 1 else rows


@pytest.mark.parametrize("fixture,prompt", [("tiny_llama", CUSTOM), ("tiny_qwen3", PromptConfig())])
@pytest.mark.parametrize("classes", [None, ["E", "S", "C", "I"]])
def test_label_rows_equal_full_logits_in_any_batch(request, fixture, prompt, classes):
    model, tok = _load(request.getfixturevalue(fixture))
    reference_model = copy.deepcopy(model)
    head = GenerativeHead(tok, build_prompt(prompt, tok, classes), 96, num_labels=len(classes) if classes else 1)
    features = head.encode(QUERIES, DOCS)
    expected = _reference(reference_model, head, features)
    shapes = []
    lm_head = model.get_output_embeddings()
    hook = lm_head.register_forward_hook(lambda m, i, o: shapes.append(tuple(o.shape)))
    with torch.no_grad():
        batched = head.scores(model, head.pad(features))
        single = torch.cat([head.scores(model, head.pad([f])) for f in features])
    hook.remove()
    torch.testing.assert_close(batched, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(single, expected, atol=1e-5, rtol=1e-5)
    n_out = len(head.label_ids)
    # The LM head only ever produced [batch, 1, label rows]: no vocabulary-sized tensor.
    assert (len(QUERIES), 1, n_out) in shapes and all(s[-1] == n_out and s[1] == 1 for s in shapes)
    assert model.get_output_embeddings().weight.shape[0] == len(tok)  # weights untouched


def test_restriction_keeps_parameter_names_and_is_idempotent(tiny_llama):
    model, _ = _load(tiny_llama)
    names = [n for n, _ in model.named_parameters()]
    restrict_to_label_rows(model, [5, 6])
    restrict_to_label_rows(model, [5, 6])
    assert [n for n, _ in model.named_parameters()] == names
    assert set(model.state_dict()) >= set(names)
    out = model(input_ids=torch.tensor([[101, 2000, 102]])).logits
    assert out.shape == (1, 3, 2)
    restrict_to_label_rows(model, [7, 8, 9])
    assert model(input_ids=torch.tensor([[101, 2000, 102]])).logits.shape == (1, 3, 3)


@pytest.mark.parametrize(
    "loss_name,classes,labels",
    [
        ("bce", None, [[1.0, 0.0, 0.0, 1.0]]),
        ("ce", ["E", "S", "C", "I"], [[0, 3, 1, 2]]),
        ("margin", None, [[1.0, 0.0, 0.0, 1.0]]),
        ("listwise_ce", None, [[1.0, 0.0, 0.0, 0.0]]),
    ],
)
def test_every_loss_trains_lora_weights_through_generative_scores(tiny_llama, loss_name, classes, labels):
    from peft import LoraConfig, TaskType, get_peft_model

    model, tok = _load(tiny_llama)
    model = get_peft_model(
        model, LoraConfig(task_type=TaskType.CAUSAL_LM, r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    )
    assert causal_lm_of(model) is model.get_base_model()
    head = GenerativeHead(tok, build_prompt(CUSTOM, tok, classes), 96, num_labels=len(classes) if classes else 1)
    model.train()
    scores = head.scores(model, head.pad(head.encode(QUERIES, DOCS)))
    grid = scores.unsqueeze(0)
    loss_fn = build_loss(loss_name)
    dtype = torch.long if loss_fn.label_kind == "class" else torch.float32
    loss = loss_fn(grid, torch.tensor(labels, dtype=dtype), torch.ones(1, 4, dtype=torch.bool))
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert grads and all(g is not None for g in grads.values())
    assert any(float(g.abs().sum()) > 0 for n, g in grads.items() if "lora_B" in n or "lora_A" in n)
    frozen = [p for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen and all(p.grad is None for p in frozen)


@pytest.mark.parametrize("fixture,prompt", [("tiny_llama", CUSTOM), ("tiny_qwen3", PromptConfig())])
def test_shared_prompt_prefix_is_run_once_and_scores_the_same(request, fixture, prompt):
    model, tok = _load(request.getfixturevalue(fixture))
    head = GenerativeHead(tok, build_prompt(prompt, tok), 96)
    batch = head.pad(head.encode(QUERIES, DOCS))
    widths = []
    hook = model.register_forward_pre_hook(lambda m, a, kw: widths.append(kw["input_ids"].shape), with_kwargs=True)
    with torch.no_grad():
        shared = head.scores(model, batch)
        n_shared = head.last_shared_prefix
        head.share_prefix = False
        whole = head.scores(model, batch)
    hook.remove()
    # The common start (system text, instruction, "<Query>:" ...) ran once with batch 1.
    assert n_shared >= len(head.prefix_ids)
    assert widths[0] == (1, n_shared) and widths[1] == (4, batch["input_ids"].shape[1] - n_shared)
    torch.testing.assert_close(shared, whole, atol=1e-5, rtol=1e-5)
    # With gradients on (training) the whole prompt is always computed.
    head.share_prefix = True
    model.train()
    head.scores(model, batch)
    assert head.last_shared_prefix == 0


def test_a_query_filling_max_length_is_cut_and_pairs_stay_within_it(tiny_llama):
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    head = GenerativeHead(tok, build_prompt(CUSTOM, tok), 96)
    calls = []
    original = head.tokenizer.__class__.__call__

    def spy(self, *args, **kwargs):
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    query = ("cordless drill battery charger kit " * 200)[:3900]
    docs = [("white ceiling fan with a light kit " * 600)[:20_000]] * 3 + ["lamp"]
    head.tokenizer.__class__.__call__ = spy
    try:
        features = head.encode([query] * len(docs), docs)
    finally:
        head.tokenizer.__class__.__call__ = original
    assert len(features) == len(docs)
    assert [len(f["input_ids"]) for f in features] == [96] * len(docs)
    assert all(not {"return_overflowing_tokens", "stride", "truncation"} & set(kw) for kw in calls)
    short = head.encode(QUERIES, DOCS)  # short pairs: nothing is cut
    assert [f["input_ids"][len(head.prefix_ids) :] for f in short] == [
        tok("".join(head.prompt.split_body(q, d)), add_special_tokens=False)["input_ids"] + head.suffix_ids
        for q, d in zip(QUERIES, DOCS, strict=True)
    ]
