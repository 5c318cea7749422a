"""Serving fixtures: a real uvicorn server on a free loopback port in a background
thread, and tiny model folders (plain, calibrated, fused, class, generative)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import uvicorn
from transformers import AutoTokenizer, BertForSequenceClassification

from rankwright.inference.reranker import Reranker
from rankwright.models.metadata import ModelMetadata
from rankwright.models.prompts import PromptConfig
from rankwright.serving import ServingConfig, create_app

FUSION = {"method": "minmax", "weights": {"reranker": 0.2, "first_stage": 0.8}, "dense_model": None, "fitted_on": "x"}
CALIBRATION = {"method": "platt", "a": 3.0, "b": -0.5}
CLASS_GAINS = {"irrelevant": 0, "partial": 1, "exact": 3}


@contextmanager
def running(app, server: uvicorn.Server | None = None, wait_ready: bool = True) -> Iterator[str]:
    """Serve ``app`` with uvicorn (or ``server``, made for ``app``) on 127.0.0.1 (a free
    port) in a thread, once its warm-up is done (unless not ``wait_ready``); yields the
    base URL."""
    server = server or uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    lifecycle = getattr(app.state, "lifecycle", None)
    while not server.started or (wait_ready and lifecycle is not None and lifecycle.state == "starting"):
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        if time.monotonic() > deadline:
            raise TimeoutError("the test server did not start within 60 s")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def serving(reranker: Reranker, **settings) -> Iterator[str]:
    """``running(create_app(reranker, ServingConfig(**settings)))``."""
    with running(create_app(reranker, ServingConfig(**settings))) as url:
        yield url


@pytest.fixture(name="serving", scope="session")
def _serving_fixture() -> Callable:
    return serving


@pytest.fixture(name="running", scope="session")
def _running_fixture() -> Callable:
    return running


def _with_metadata(source: str, folder: Path, **fields) -> str:
    shutil.copytree(source, folder)
    ModelMetadata(max_length=32, **fields).save(folder)
    return str(folder)


@pytest.fixture(scope="session")
def calibrated_dir(tiny_cross_encoder, tmp_path_factory) -> str:
    return _with_metadata(tiny_cross_encoder, tmp_path_factory.mktemp("served") / "calibrated", calibration=CALIBRATION)


@pytest.fixture(scope="session")
def fused_dir(tiny_cross_encoder, tmp_path_factory) -> str:
    return _with_metadata(tiny_cross_encoder, tmp_path_factory.mktemp("served") / "fused", fusion=dict(FUSION))


@pytest.fixture(scope="session")
def class_dir(tiny_bert, tmp_path_factory) -> str:
    """A three-class cross-encoder (gains 0, 1, 3)."""
    folder = tmp_path_factory.mktemp("served") / "classes"
    torch.manual_seed(2)
    BertForSequenceClassification.from_pretrained(tiny_bert, num_labels=3).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(folder)
    ModelMetadata(
        max_length=32, num_labels=3, activation="softmax", score="expected_gain", labels={"class_gains": CLASS_GAINS}
    ).save(folder)
    return str(folder)


@pytest.fixture(scope="session")
def generative_dir(tiny_llama, tmp_path_factory) -> str:
    """``tiny_llama`` (random Llama, MiniLM tokenizer) as a yes/no generative model
    folder: its rankwright.json holds a custom prompt."""
    folder = tmp_path_factory.mktemp("served") / "generative"
    shutil.copytree(tiny_llama, folder)
    prompt = PromptConfig(template="custom", prefix="{system}\n", suffix="\nanswer:")
    Reranker.from_pretrained(str(folder), prompt=prompt, max_length=96).metadata.save(folder)
    return str(folder)
