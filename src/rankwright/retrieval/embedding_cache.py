"""An on-disk cache of text embeddings, so that a rerun over the same texts (the
recipe's validation and test candidates, its training pairs, a corpus) reads vectors
instead of encoding them again.

One folder per model signature (the model's path or id, its files' sizes and
modification times when it is a local folder, the token limit): ``keys.npy`` holds the
SHA-1 of each embedded text (with its prefix) and ``vectors.npy`` the float32 rows.
Both are replaced atomically after each call that added texts. A cache that cannot be
read is reported and rebuilt, never trusted. Without a folder the cache lives in memory
only (one process reusing its own embeddings, e.g. the recipe's fine-tuned bi-encoder
scoring candidates and then retrieving from the corpus)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


def model_signature(model: str, max_length: int | None) -> str:
    """A digest that changes when the model's files or the token limit change."""
    path = Path(model)
    files: list[tuple[str, int, int]] = []
    if path.is_dir():
        for item in sorted(path.rglob("*")):
            if item.is_file():
                stat = item.stat()
                files.append((str(item.relative_to(path)), stat.st_size, stat.st_mtime_ns))
    name = str(path.resolve()) if path.exists() else model
    text = json.dumps({"model": name, "max_length": max_length, "files": files})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def text_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Embeddings of texts under ``folder/<signature>`` (``folder`` None: in memory only);
    :meth:`encode` embeds only the texts it has not seen."""

    def __init__(self, folder: str | Path | None, signature: str):
        self.folder = None if folder is None else Path(folder) / signature
        self.rows: dict[bytes, int] = {}
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self.hits = self.misses = 0
        self._load()

    def _load(self) -> None:
        if self.folder is None:
            return
        keys_path, vectors_path = self.folder / "keys.npy", self.folder / "vectors.npy"
        if not keys_path.exists():
            return
        try:
            keys = np.load(keys_path)
            vectors = np.load(vectors_path)
            if keys.dtype != np.uint8 or keys.shape[1:] != (20,) or vectors.ndim != 2 or len(keys) != len(vectors):
                raise ValueError(f"keys of shape {keys.shape} ({keys.dtype}) but vectors of shape {vectors.shape}")
        except (OSError, ValueError) as err:
            log.warning("embedding cache %s cannot be read (%s): it is rebuilt", self.folder, err)
            return
        # raw 20-byte rows: numpy's S20 would drop a digest's trailing zero bytes
        self.rows = {k.tobytes(): i for i, k in enumerate(keys)}
        if len(self.rows) != len(keys):
            log.warning("embedding cache %s has repeated keys: it is rebuilt", self.folder)
            self.rows = {}
            return
        self.vectors = vectors.astype(np.float32, copy=False)

    def _save(self) -> None:
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        keys = np.frombuffer(b"".join(self.rows), dtype=np.uint8).reshape(-1, 20)
        for name, array in (("vectors.npy", self.vectors), ("keys.npy", keys)):
            tmp = self.folder / f".{name}.{os.getpid()}.tmp"
            with open(tmp, "wb") as handle:
                np.save(handle, array)
            os.replace(tmp, self.folder / name)

    def encode(self, texts: list[str], embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """The embedding of each of ``texts``; ``embed`` is called once, on the unseen ones."""
        keys = [text_key(t) for t in texts]
        missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in self.rows]
        new = dict(missing)  # each unseen text once
        self.hits += len(keys) - len(missing)
        self.misses += len(new)
        if new:
            vectors = np.asarray(embed(list(new.values())), dtype=np.float32)
            start = len(self.vectors)
            self.vectors = vectors if start == 0 else np.concatenate([self.vectors, vectors])
            self.rows.update((k, start + i) for i, k in enumerate(new))
            self._save()
        return self.vectors[[self.rows[k] for k in keys]]
