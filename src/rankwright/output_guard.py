"""Nothing lost: a command that writes claims its output first (a folder, or one file),
refusing results an earlier run left there, and on Ctrl-C removes what it half wrote.

Each command names what it writes as patterns of names in its output folder
(``checkpoint-*``, ``metrics.json``, ...), and only those count: a folder that holds
other files (the data, say) is written into as it is. An earlier run's results are an
:class:`OutputExistsError` (a one-line error, exit code 2, naming what is there and the
choices) unless ``overwrite`` is set, which removes them first so that nothing stale
(an old checkpoint, a figure of another model) mixes with the new run's files; nothing
the command would not have written itself is ever removed. ``resume`` (``train``'s
``--training.resume true``) continues in the folder instead.

On Ctrl-C, :func:`writes_output` removes the entries this run had written (the earlier
ones were refused or removed at the start) and the folders it created, unless the
command says what is worth keeping (a resumable checkpoint), and raises
:class:`Interrupted`, whose message the command line prints in one line.

Dataclasses and the standard library only: the command configs use :func:`overwrite_field`.
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import logging
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rankwright.config import ConfigError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

OVERWRITE_HELP = "replace the results an earlier run left in the output (otherwise the command refuses to write)"


def overwrite_field(default: bool = False, help_text: str = OVERWRITE_HELP) -> Any:
    """The ``overwrite`` flag every writing command's config has."""
    return field(default=default, metadata={"help": help_text})


class OutputExistsError(ConfigError):
    """The output already holds an earlier run's results (and ``overwrite`` is not set)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a command; the message says what it left behind."""


def _main_process() -> bool:
    """Under torchrun every process runs the command; one of them (rank 0) removes files."""
    return os.environ.get("RANK", "0") in ("", "0")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _listing(paths: list[Path], shown: int = 4) -> str:
    names = [p.name + ("/" if p.is_dir() else "") for p in paths]
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _first_missing(folder: Path) -> Path | None:
    """The topmost folder of ``folder``'s path that does not exist yet (what a run creates)."""
    missing = None
    for path in (folder, *folder.parents):
        if path.exists():
            break
        missing = path
    return missing


@dataclass
class Claim:
    """A command's output: the entries of ``folder`` that match ``patterns``."""

    folder: Path
    patterns: tuple[str, ...]
    created: Path | None  # the topmost folder this run creates (None: ``folder`` existed)
    resumed: bool = False  # continuing an earlier run: what is there is never removed

    def entries(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        matches = (p for p in self.folder.iterdir() if any(fnmatch.fnmatchcase(p.name, q) for q in self.patterns))
        return sorted(matches)

    def abandon(self) -> str:
        """Remove what this (interrupted) run wrote and the folders it created; in words, what is left."""
        if self.resumed:
            return f"nothing removed from {self.folder} (resumed run)"
        written = self.entries()
        if _main_process():
            for path in written:
                _remove(path)
            self._remove_created()
        return f"partial output removed from {self.folder}, nothing written" if written else "nothing written"

    def _remove_created(self) -> None:
        if self.created is None:
            return
        for path in (self.folder, *self.folder.parents):
            if not path.is_dir() or any(path.iterdir()):
                return
            path.rmdir()
            if path == self.created:
                return


def claim_folder(
    folder: str | Path,
    patterns: Iterable[str],
    *,
    overwrite: bool,
    flag: str = "--output_dir",
    resume: bool = False,
    resume_hint: str | None = None,
) -> Claim:
    """Check ``folder`` before a command writes into it (see the module's docstring);
    ``patterns`` (:mod:`fnmatch`) name the entries the command writes, ``flag`` the
    option that chose the folder, ``resume_hint`` how to continue instead."""
    folder = Path(folder)
    if resume and overwrite:
        raise ConfigError(f"--overwrite true and --training.resume true: choose one (resume continues in {folder})")
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError(f"{flag} {folder} is a file, not a folder: give a folder")
    claim = Claim(folder, tuple(patterns), _first_missing(folder), resumed=resume)
    found = claim.entries()
    if not found or resume:
        return claim
    if not overwrite:
        hint = f"; {resume_hint}" if resume_hint else ""
        raise OutputExistsError(
            f"{folder} already holds an earlier run's results ({_listing(found)}): "
            f"--overwrite true replaces them, or give a fresh {flag}{hint}"
        )
    if _main_process():
        log.info("replacing an earlier run (overwrite): removing %s from %s", _listing(found, len(found)), folder)
        for path in found:
            _remove(path)
    return claim


def claim_file(path: str | Path, *, overwrite: bool, flag: str = "--output", companions: Iterable[str] = ()) -> Claim:
    """Check one output file (and ``companions``, file names written beside it) before a
    command writes it: an existing one is refused, or with ``overwrite`` removed."""
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(f"{flag} {path} is a folder: give a file name")
    names = (path.name, *companions)
    claim = Claim(path.parent, tuple(glob.escape(n) for n in names), _first_missing(path.parent))
    found = claim.entries()
    if found and not overwrite:
        one = len(found) == 1
        raise OutputExistsError(
            f"{' and '.join(map(str, found))} already exist{'s' if one else ''} (an earlier run's output): "
            f"--overwrite true replaces {'it' if one else 'them'}, or give another {flag}"
        )
    if found and _main_process():
        log.info("replacing an earlier run (overwrite): removing %s", " and ".join(map(str, found)))
        for found_path in found:
            _remove(found_path)
    return claim


def writes_output(
    claim: Callable[[Any], Claim | None], kept: Callable[[Claim], str | None] | None = None
) -> Callable[[F], F]:
    """Decorate a command's ``main(config)``: ``claim(config)`` checks (and with
    ``overwrite`` clears) the output before the command runs; on Ctrl-C the command's
    partial output is removed (unless ``kept`` says what is worth keeping, e.g. a
    checkpoint to resume from) and :class:`Interrupted` says so."""

    def decorate(main: F) -> F:
        @functools.wraps(main)
        def run(config: Any) -> Any:
            claimed = claim(config)
            try:
                return main(config)
            except Interrupted:
                raise
            except KeyboardInterrupt:
                raise Interrupted(left_behind(claimed, kept)) from None

        return run  # type: ignore[return-value]

    return decorate


def left_behind(claimed: Claim | None, kept: Callable[[Claim], str | None] | None = None) -> str:
    """What an interrupted command leaves: what ``kept`` keeps, or nothing (its partial output removed)."""
    if claimed is None:
        return "nothing written"
    message = kept(claimed) if kept is not None else None
    return message if message is not None else claimed.abandon()
