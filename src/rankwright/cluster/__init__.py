"""Running scoring, mining and retrieval jobs on a Dask cluster: the work is cut into
fixed blocks (so results do not depend on how many workers or partitions run them),
partitions of blocks go to workers, and each worker loads a model or an index once."""
