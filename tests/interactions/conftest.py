"""Small synthetic interaction data: 40 films with genres, 30 users with 6..14 seeded
ratings each at increasing times (written as csv files in a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rankwright.config import from_dict
from rankwright.interactions.config import PairsConfig

GENRES = ["Drama", "Comedy", "Action", "Horror", "Romance"]
N_ITEMS, N_USERS = 40, 30


def make_items() -> pd.DataFrame:
    rows = []
    for i in range(N_ITEMS):
        genres = "|".join(sorted({GENRES[i % 5], GENRES[(i * 3 + 1) % 5]}))
        rows.append({"item_id": f"i{i:02d}", "title": f"Film {i} {GENRES[i % 5].lower()} story", "genres": genres})
    return pd.DataFrame(rows)


def make_interactions(n_users: int = N_USERS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        user = str(u + 1) if u % 5 else f"user{u}"  # numeric and text ids
        items = rng.choice(N_ITEMS, size=int(rng.integers(6, 15)), replace=False)
        start = int(rng.integers(1_000, 2_000))
        for k, item in enumerate(items):
            rating = int(rng.integers(1, 6))
            rows.append({"user_id": user, "item_id": f"i{item:02d}", "rating": rating, "timestamp": start + 10 * k})
    return pd.DataFrame(rows)


@pytest.fixture
def tiny_data(tmp_path) -> dict[str, Path]:
    """interactions.csv and items.csv in tmp_path."""
    interactions, items = tmp_path / "interactions.csv", tmp_path / "items.csv"
    make_interactions().to_csv(interactions, index=False)
    make_items().to_csv(items, index=False)
    return {"interactions": interactions, "items": items, "dir": tmp_path}


def pairs_config(data: dict[str, Path], out: Path, **sections) -> PairsConfig:
    """A config over ``tiny_data`` run in this process, overridden by ``sections``."""
    base = {
        "interactions": {"path": str(data["interactions"])},
        "items": {"path": str(data["items"]), "genres": "genres", "text_template": "{title}. Genres: {genres}"},
        "positives": {"threshold": 3},
        "output": {"dir": str(out), "formats": ["jsonl", "parquet"]},
        "dask": {"scheduler": "synchronous"},
        "progress": False,
    }
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return from_dict(PairsConfig, base)


@pytest.fixture(name="pairs_config")
def _pairs_config_fixture():
    return pairs_config
