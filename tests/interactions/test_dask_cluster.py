"""The Dask session: in-process schedulers compute, and peak memory is measured."""

from __future__ import annotations

import subprocess
import sys

import dask

from rankwright.interactions.cluster import DaskConfig, dask_session


def test_peak_memory_grows_with_an_allocation():
    # in a fresh process: this one's peak may already be above any allocation made here
    code = (
        "import numpy as np; from rankwright.cluster.memory import peak_rss_mib; a = peak_rss_mib(); "
        "block = np.ones(300 * 2**20 // 8); del block; print(a, peak_rss_mib())"
    )
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    before, after = map(float, printed.split())
    assert 250 < after - before < 400


def test_in_process_schedulers_compute_and_report_memory():
    for scheduler in ("synchronous", "threads"):
        with dask_session(DaskConfig(scheduler=scheduler), progress=False) as session:
            (total,) = session.compute(dask.delayed(sum)([1, 2, 3]))
            assert total == 6 and session.client is None
            assert set(session.memory()) == {"client_peak_mib"}
            assert session.threads >= 1


def test_progress_bars_go_to_stderr_not_stdout(capfd):
    configs = (DaskConfig(scheduler="synchronous"), DaskConfig(workers=1, processes=False))
    for config in configs:
        with dask_session(config, progress=True) as session:
            (total,) = session.compute(dask.delayed(sum)([1, 2, 3]))
        assert total == 6
        captured = capfd.readouterr()
        assert captured.out == "", config
        assert "100% Completed" in captured.err, config
