"""Finding a model before loading it: a local folder (or ``.gguf`` file), or a Hugging
Face Hub name. A model that cannot be found is a :class:`ModelNotFoundError` that says
why in one line, at once: transformers' own errors for a missing path are pages of
traceback ending in a complaint about repo ids, and an unknown Hub name offline is
retried for about 40 s before it fails.

A name is a local path when it exists, or when it looks like one (it starts with ``/``,
``.`` or ``~``, ends with ``.gguf``, or has more than one ``/``: a Hub name is ``name`` or
``namespace/name``). Any other name is a Hub name: it is used from the Hugging Face cache
when it is there; offline (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE`` set) it must be;
online the Hub is asked once, with a short timeout, whether it has the model.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

#: seconds the Hub may take to say whether it has a model
HUB_TIMEOUT_S = 5.0
#: a folder holding any of these is a model folder (transformers, rankwright, PEFT, sentence-transformers)
MODEL_FILES = ("config.json", "rankwright.json", "adapter_config.json", "modules.json")
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
_TRUE = {"1", "on", "yes", "true"}
_FIX = "give a model folder, such as a train run's best/ or final/, or a Hugging Face Hub name"


class ModelNotFoundError(FileNotFoundError):
    """A model path or Hub name that cannot be loaded; the message names it and says why."""


def looks_like_path(name: str) -> bool:
    """Whether ``name`` can only be a local path (not a Hub ``name`` or ``namespace/name``)."""
    return (
        name.startswith(("/", ".", "~"))
        or name.lower().endswith(".gguf")
        or name.count("/") > 1
        or (os.sep != "/" and os.sep in name)
    )


def locate_model(name: str) -> str:
    """``name`` when it is a local model folder or file, or a Hub name that can be
    loaded (``~`` expanded); else a :class:`ModelNotFoundError` saying why."""
    if not name.strip():
        raise ModelNotFoundError(f"no model given; {_FIX}")
    path = Path(name).expanduser()
    if path.exists():
        _check_local(name, path)
        return str(path) if name.startswith("~") else name
    if looks_like_path(name):
        raise ModelNotFoundError(f"model not found: {name} (no such folder or file; {_FIX})")
    _check_hub_name(name)
    return name


def _check_local(name: str, path: Path) -> None:
    if path.is_dir() and not any((path / f).exists() for f in MODEL_FILES):
        raise ModelNotFoundError(
            f"not a model folder: {name} (no {' or '.join(MODEL_FILES[:2])} in it; {_FIX})",
        )
    if path.is_file() and path.suffix.lower() != ".gguf":
        raise ModelNotFoundError(f"not a model: {name} is a file, not a folder or a .gguf file; {_FIX}")


def offline_variable() -> str | None:
    """The environment variable that forbids downloads, when one is set."""
    return next((v for v in OFFLINE_VARIABLES if os.environ.get(v, "").strip().lower() in _TRUE), None)


def _check_hub_name(name: str) -> None:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError as err:
        reason = str(err).split(". ")[0]
        raise ModelNotFoundError(
            f"model not found: {name} (no such folder, and not a Hub name: {reason}; {_FIX})"
        ) from None
    if _cached(name):
        return
    variable = offline_variable()
    if variable:
        raise ModelNotFoundError(
            f"model not found: {name} (no such folder, and not in the Hugging Face cache; {variable} is set, so it "
            f"is not downloaded: give a local model folder, or unset {variable} to download it)"
        )
    _ask_hub(name)


def _cached(name: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(name, f), str) for f in MODEL_FILES)


@functools.lru_cache(maxsize=64)
def _ask_hub(name: str) -> None:
    """Whether the Hub has ``name`` (once per name and process: a found name is
    remembered, a failure raises and is asked again next time)."""
    from huggingface_hub import model_info
    from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

    try:
        model_info(name, timeout=HUB_TIMEOUT_S)
    except GatedRepoError:
        return  # it exists; transformers says how to get access
    except RepositoryNotFoundError:
        raise ModelNotFoundError(
            f"model not found: {name} (no such folder, and no such model on the Hugging Face Hub; if it is "
            "private, log in with `hf auth login`)"
        ) from None
    except HfHubHTTPError:
        return  # the Hub answered with another error: transformers reports it
    except Exception as err:  # no answer: the HTTP client's connection and timeout errors differ by version
        raise ModelNotFoundError(
            f"model not found: {name} (no such folder, not in the Hugging Face cache, and the Hub is unreachable: "
            f"{type(err).__name__}: {err}; give a local model folder, or download it where the Hub can be reached)"
        ) from None
