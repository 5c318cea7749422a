"""``dask.*`` settings: off by default, one of workers or scheduler, bad values named."""

from __future__ import annotations

import pytest

from rankwright.cluster.config import ClusterConfig


def test_off_unless_workers_or_a_scheduler_is_set():
    assert not ClusterConfig().enabled
    assert ClusterConfig(workers=1).enabled and ClusterConfig(scheduler="tcp://h:8786").enabled


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ClusterConfig(workers=2, scheduler="tcp://h:8786"), "set one"),
        (ClusterConfig(workers=0), r"dask\.workers must be at least 1"),
        (ClusterConfig(workers=2, partitions=0), r"dask\.partitions must be at least 1"),
        (ClusterConfig(workers=2, threads_per_worker=0), r"dask\.threads_per_worker"),
        (ClusterConfig(scheduler="tcp://h:1", connect_timeout=0), r"dask\.connect_timeout"),
    ],
)
def test_bad_settings_are_named(config, message):
    with pytest.raises(ValueError, match=message):
        config.check()
