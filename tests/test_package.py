"""``help(rankwright)`` and ``dir(rankwright)`` show the public API, and neither loads torch."""

from __future__ import annotations

import importlib
import json
import os
import pydoc
import re
import subprocess
import sys
from pathlib import Path

import rankwright

SRC = Path(rankwright.__file__).resolve().parents[1]


def test_dir_and_docstring_show_the_public_names_without_loading_torch():
    code = (
        "import json, sys, rankwright\n"
        "names = dir(rankwright)\n"
        "print(json.dumps({'dir': names, 'all': rankwright.__all__, 'torch': 'torch' in sys.modules}))"
    )
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": path}
    )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["torch"] is False
    assert set(got["all"]) == {"Reranker", "RankedDocument", "__version__"}
    assert set(got["all"]) <= set(got["dir"])
    for name in got["all"]:
        assert f"``{name}``:" in rankwright.__doc__, name


def test_help_lists_the_lazy_classes():
    text = pydoc.render_doc(rankwright, renderer=pydoc.plaintext)
    assert "class Reranker" in text and "class RankedDocument" in text
    assert rankwright.Reranker.__name__ == "Reranker"


def test_every_name_the_docstring_lists_exists():
    listed = re.findall(r"^- ``(rankwright[.\w]*)``: (.*)$", rankwright.__doc__, flags=re.M)
    assert len(listed) >= 5
    for module_name, line in listed:
        module = importlib.import_module(module_name)
        names = re.findall(r"``(\w+)``", line.split(",")[0])  # the names before the first comma
        assert names, line
        for name in names:
            assert hasattr(module, name), f"{module_name}.{name}"
