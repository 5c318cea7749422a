"""Prompt rendering and the token path of generative rerankers: the Qwen3-Reranker
template against the model card's text tokenised by hand, document-first truncation (a
query only when it alone fills max_length), label words and chat templates."""

from __future__ import annotations

import logging

import pytest
from transformers import AutoTokenizer

from rankwright.models.generative import GenerativeHead, label_token_ids
from rankwright.models.prompts import PromptConfig, PromptError, build_prompt, judge_system, resolve_label_words

# The Qwen3-Reranker model card's prompt, written out here independently of the code.
CARD_PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
    'provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
CARD_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
CARD_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"


@pytest.fixture(scope="module")
def qwen_tok(qwen3_tokenizer_dir):
    return AutoTokenizer.from_pretrained(qwen3_tokenizer_dir)


def card_ids(tok, query: str, doc: str) -> list[int]:
    body = f"<Instruct>: {CARD_INSTRUCTION}\n<Query>: {query}\n<Document>: {doc}"
    enc = [tok.encode(part, add_special_tokens=False) for part in (CARD_PREFIX, body, CARD_SUFFIX)]
    return enc[0] + enc[1] + enc[2]


def test_qwen3_reranker_template_matches_the_model_card(qwen_tok):
    prompt = build_prompt(PromptConfig(), qwen_tok)
    assert prompt.template == "qwen3-reranker"  # chosen from the tokenizer's Qwen3 tokens
    assert prompt.prefix == CARD_PREFIX and prompt.suffix == CARD_SUFFIX
    head = GenerativeHead(qwen_tok, prompt, max_length=512)
    assert head.label_ids == [9693, 2152]
    pairs = [("cordless drill", "Milwaukee M18 1/2 in. drill/driver kit"), ("what is BM25?", "Okapi BM25 ranks {x}")]
    features = head.encode([q for q, _ in pairs], [d for _, d in pairs])
    for (query, doc), feature in zip(pairs, features, strict=True):
        assert feature["input_ids"] == card_ids(qwen_tok, query, doc)
    # The whole string tokenised at once gives the same ids (special tokens split cleanly).
    whole = CARD_PREFIX + f"<Instruct>: {CARD_INSTRUCTION}\n<Query>: cordless drill\n<Document>: x" + CARD_SUFFIX
    assert head.encode(["cordless drill"], ["x"])[0]["input_ids"] == qwen_tok.encode(whole, add_special_tokens=False)


def test_only_the_document_is_truncated(qwen_tok):
    head = GenerativeHead(qwen_tok, build_prompt(PromptConfig(), qwen_tok), max_length=100)
    query = "stainless steel kitchen sink with drainboard"
    doc = " ".join(f"word{i}" for i in range(200))
    ids = head.encode([query], [doc])[0]["input_ids"]
    assert len(ids) == 100
    full = card_ids(qwen_tok, query, doc)
    n_suffix = len(qwen_tok.encode(CARD_SUFFIX, add_special_tokens=False))
    assert ids[-n_suffix:] == full[-n_suffix:]  # suffix intact
    assert ids[:-n_suffix] == full[: 100 - n_suffix]  # everything before it is the untouched start
    text = qwen_tok.decode(ids)
    assert f"<Query>: {query}\n<Document>: word0 word1" in text and "word199" not in text


def test_a_query_too_long_is_cut_and_the_document_gets_the_rest(qwen_tok, caplog):
    head = GenerativeHead(qwen_tok, build_prompt(PromptConfig(), qwen_tok), max_length=80)
    query = " ".join(f"q{i}" for i in range(60))
    long_doc = " ".join(f"d{i}" for i in range(60))
    with caplog.at_level(logging.WARNING):
        short, long = (f["input_ids"] for f in head.encode([query, query], ["some document", long_doc]))
    assert len(short) == len(long) == 80  # cut, never longer than max_length
    assert "<Query>: q0 q1" in qwen_tok.decode(short) and "q59" not in qwen_tok.decode(short)
    assert "<Document>: some document<|im_end|>" in qwen_tok.decode(short)  # a short document is kept whole
    room = 80 - len(head.encode([""], [""])[0]["input_ids"])
    assert len(qwen_tok.encode(query, add_special_tokens=False)) > room

    def parts(ids):
        body = qwen_tok.decode(ids).split("<Query>: ")[1]
        return body.split("\n<Document>: ")[0], body.split("\n<Document>: ")[1].split("<|im_end|>")[0]

    (short_query, _), (long_query, long_part) = parts(short), parts(long)
    assert query.startswith(long_query) and len(long_query) < len(short_query)  # half the room at most
    assert long_doc.startswith(long_part) and len(qwen_tok.encode(long_part)) >= room - room // 2
    assert "queries leave no room for a document" in caplog.text


def test_esci_label_words_use_distinct_first_tokens_and_are_logged(qwen_tok, caplog):
    words = resolve_label_words(PromptConfig(), ["E", "S", "C", "I"])
    assert words == ["exact", "substitute", "complement", "irrelevant"]
    with caplog.at_level(logging.INFO):
        ids = label_token_ids(qwen_tok, words)
    assert ids == [qwen_tok.encode(w, add_special_tokens=False)[0] for w in words]
    assert len(set(ids)) == 4
    assert "'substitute'=1966" in caplog.text and "first token" in caplog.text
    prompt = build_prompt(PromptConfig(), qwen_tok, ["E", "S", "C", "I"])
    assert '"exact", "substitute", "complement" or "irrelevant"' in prompt.prefix


def test_label_words_sharing_a_first_token_are_an_error_naming_them(qwen_tok):
    with pytest.raises(PromptError, match=r"\['substitute', 'subway'\].*same token"):
        label_token_ids(qwen_tok, ["substitute", "subway"])


def test_label_word_configuration():
    assert resolve_label_words(PromptConfig(), None) == ["yes", "no"]
    assert resolve_label_words(PromptConfig(label_words=["true", "false"]), None) == ["true", "false"]
    assert resolve_label_words(PromptConfig(label_words={"a": "good", "b": "bad"}), ["b", "a"]) == ["bad", "good"]
    assert resolve_label_words(PromptConfig(), ["low", "high"]) == ["low", "high"]
    with pytest.raises(PromptError, match="no word for class"):
        resolve_label_words(PromptConfig(label_words={"a": "good"}), ["a", "b"])
    with pytest.raises(PromptError, match=r"\[positive, negative\]"):
        resolve_label_words(PromptConfig(label_words=["a", "b", "c"]), None)
    assert judge_system(["yes", "no"]).endswith('can only be "yes" or "no".')
    assert judge_system(["a", "b", "c"]).endswith('can only be "a", "b" or "c".')


def test_chat_template_gets_an_explicit_system_message(tiny_llama):
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    # A template that, like SmolLM2's, injects its own system prompt when none is given.
    tok.chat_template = (
        "{% if messages[0]['role'] != 'system' %}<sys>default assistant</sys>{% endif %}"
        "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    prompt = build_prompt(PromptConfig(system="Judge relevance."), tok)
    assert prompt.template == "chat"
    assert prompt.prefix == "<system>Judge relevance.</system><user>"
    assert prompt.suffix == "</user><assistant>"
    assert "default assistant" not in prompt.render("q", "d")


def test_custom_and_bad_templates(tiny_llama):
    tok = AutoTokenizer.from_pretrained(tiny_llama)
    with pytest.raises(PromptError, match="no chat template"):
        build_prompt(PromptConfig(), tok)
    with pytest.raises(PromptError, match=r"prefix and prompt\.suffix"):
        build_prompt(PromptConfig(template="custom"), tok)
    with pytest.raises(PromptError, match="once each"):
        build_prompt(PromptConfig(template="custom", prefix="", suffix="", body="{query}"), tok)
    prompt = build_prompt(PromptConfig(template="custom", prefix="{system}\n", suffix="\nanswer:"), tok)
    head = GenerativeHead(tok, prompt, max_length=64)
    ids = head.encode(["lamp"], ["a desk lamp"])[0]["input_ids"]
    text = tok.decode(ids)
    assert text.startswith("judge whether the document") and "[CLS]" not in text  # no BOS: this tokenizer has none
    assert text.endswith("a desk lamp answer :")
