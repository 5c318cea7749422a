"""Loading, labelling and subsetting data the same way for every command: the code is in
:mod:`rankwright.data.loading` and the settings in :mod:`rankwright.data.config`; these
names are re-exported from their old home."""

from __future__ import annotations

from rankwright.data.config import SUBSETS, DataSelection, RunDataSelection
from rankwright.data.loading import LoadedData, load_data

__all__ = ["SUBSETS", "DataSelection", "LoadedData", "RunDataSelection", "load_data"]
