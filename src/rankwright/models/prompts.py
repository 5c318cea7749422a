"""Prompts of generative rerankers: a (query, document) pair becomes
``prefix + body + suffix`` and the model's next token after the suffix is read.

- ``qwen3-reranker``: the Qwen3-Reranker recipe exactly as its model card gives it
  (system text, ``<Instruct>/<Query>/<Document>`` body, an empty ``<think>`` block).
- ``chat``: the tokenizer's own chat template with an explicit system message (some
  templates, SmolLM2's among them, inject a default system prompt when none is given).
- ``custom``: ``prefix`` and ``suffix`` strings given by the user.

``auto`` picks ``qwen3-reranker`` when the tokenizer has the Qwen3 chat and think tokens,
else ``chat`` when it has a chat template, else asks for a custom one -- it never looks
at the model's name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

QWEN3_SYSTEM = (
    "Judge whether the Document meets the requirements based on the Query and the Instruct provided. "
    'Note that the answer can only be "yes" or "no".'
)
QWEN3_PREFIX = "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n"
QWEN3_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
DEFAULT_BODY = "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
QWEN3_TOKENS = ("<|im_start|>", "<|im_end|>", "<think>", "</think>")
TEMPLATES = ("auto", "qwen3-reranker", "chat", "custom")
#: label words of the ESCI classes (seed 000)
ESCI_WORDS = {"E": "exact", "S": "substitute", "C": "complement", "I": "irrelevant"}
_BODY_MARK = "\x00RANKWRIGHT-BODY\x00"


class PromptError(ValueError):
    """The prompt configuration cannot be rendered; the message says what to change."""


@dataclass
class PromptConfig:
    template: str = field(default="auto", metadata={"help": "auto|qwen3-reranker|chat|custom"})
    instruction: str = field(default=DEFAULT_INSTRUCTION, metadata={"help": "the task instruction in the body"})
    system: str | None = field(
        default=None, metadata={"help": "system message (default: the Qwen3-Reranker judge text for the labels)"}
    )
    body: str = field(default=DEFAULT_BODY, metadata={"help": "user text with {instruction}, {query}, {document}"})
    prefix: str | None = field(default=None, metadata={"help": "template=custom: text before the body"})
    suffix: str | None = field(default=None, metadata={"help": "template=custom: text after the body"})
    label_words: list[str] | dict[str, str] | None = field(
        default=None,
        metadata={
            "help": "words the model answers with: [positive, negative] (default yes/no), or per class "
            "(a list in class order or {class: word}; ESCI classes E/S/C/I default to exact/substitute/...)"
        },
    )


def judge_system(words: list[str]) -> str:
    """The Qwen3-Reranker system text; its last sentence lists the label words."""
    if words == ["yes", "no"]:
        return QWEN3_SYSTEM
    quoted = [f'"{w}"' for w in words]
    listed = " or ".join([", ".join(quoted[:-1]), quoted[-1]]) if len(quoted) > 1 else quoted[0]
    return QWEN3_SYSTEM.replace('"yes" or "no"', listed)


def resolve_label_words(config: PromptConfig, classes: list[str] | None) -> list[str]:
    """Label words in model-output order: [positive, negative] for one score, else one
    word per class in ``classes`` order."""
    words = config.label_words
    if not classes:
        words = list(words) if words is not None else ["yes", "no"]
        if isinstance(config.label_words, dict) or len(words) != 2:
            raise PromptError(f"a yes/no reranker needs label_words [positive, negative], got {config.label_words!r}")
        return [str(w) for w in words]
    if words is None:
        if set(classes) <= set(ESCI_WORDS):
            return [ESCI_WORDS[c] for c in classes]
        return [str(c) for c in classes]
    if isinstance(words, dict):
        missing = [c for c in classes if c not in words]
        if missing:
            raise PromptError(f"prompt.label_words has no word for class(es) {missing}")
        return [str(words[c]) for c in classes]
    if len(words) != len(classes):
        raise PromptError(f"prompt.label_words has {len(words)} words for {len(classes)} classes {classes}")
    return [str(w) for w in words]


@dataclass
class Prompt:
    """A rendered template: fixed ``prefix`` and ``suffix`` strings around the body."""

    template: str
    prefix: str
    body: str
    suffix: str
    instruction: str
    label_words: list[str]

    def __post_init__(self) -> None:
        if self.body.count("{document}") != 1 or self.body.count("{query}") != 1:
            raise PromptError(f"prompt body must contain {{query}} and {{document}} once each: {self.body!r}")

    def split_body(self, query: str, document: str) -> tuple[str, str, str]:
        """The body around the document: (text before it, the document, text after it)."""
        before, after = self.body.split("{document}")
        values = {"instruction": self.instruction, "query": query}
        return before.format(**values), document, after.format(**values)

    def render(self, query: str, document: str) -> str:
        return self.prefix + "".join(self.split_body(query, document)) + self.suffix

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Prompt:
        return cls(**data)


def _has_qwen3_tokens(tokenizer) -> bool:
    vocab = tokenizer.get_vocab()
    return all(t in vocab for t in QWEN3_TOKENS)


def build_prompt(config: PromptConfig, tokenizer, classes: list[str] | None = None) -> Prompt:
    """Resolve ``config`` against a tokenizer into fixed prefix/suffix strings."""
    if config.template not in TEMPLATES:
        raise PromptError(f"prompt.template must be one of {TEMPLATES}, got {config.template!r}")
    words = resolve_label_words(config, classes)
    system = config.system if config.system is not None else judge_system(words)
    template = config.template
    if template == "auto":
        if _has_qwen3_tokens(tokenizer):
            template = "qwen3-reranker"
        elif getattr(tokenizer, "chat_template", None):
            template = "chat"
        else:
            raise PromptError(
                "the tokenizer has no chat template and is not a Qwen3 tokenizer: set prompt.template custom with "
                "prompt.prefix and prompt.suffix (the answer word follows the suffix)"
            )
    if template == "qwen3-reranker":
        prefix, suffix = QWEN3_PREFIX.format(system=system), QWEN3_SUFFIX
    elif template == "chat":
        if not getattr(tokenizer, "chat_template", None):
            raise PromptError("prompt.template chat: this tokenizer has no chat template; use qwen3-reranker or custom")
        messages = [{"role": "system", "content": system}, {"role": "user", "content": _BODY_MARK}]
        rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if rendered.count(_BODY_MARK) != 1:
            raise PromptError("the tokenizer's chat template does not place the user message exactly once")
        prefix, suffix = rendered.split(_BODY_MARK)
    else:
        if config.prefix is None or config.suffix is None:
            raise PromptError("prompt.template custom needs prompt.prefix and prompt.suffix")
        prefix, suffix = config.prefix.replace("{system}", system), config.suffix
    return Prompt(template, prefix, config.body, suffix, config.instruction, words)
