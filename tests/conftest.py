"""Shared fixtures: the location of the shared (offline) data sets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder: $RANKWRIGHT_SHARED_DATA, else <repo>/../shared/data."""
    env = os.environ.get("RANKWRIGHT_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (set RANKWRIGHT_SHARED_DATA to use another)")
    return path
