"""User interactions -> (user context, item text, label) training pairs, built on Dask.

The stages, one module each:

- :mod:`~rankwright.interactions.reading`: the interactions table (csv/tsv/parquet,
  MovieLens ``u.data``) as a Dask frame with canonical columns, bad rows counted;
- :mod:`~rankwright.interactions.items`: the item table (MovieLens ``u.item`` genre
  flags included) as a small :class:`Catalog` broadcast to every worker;
- :mod:`~rankwright.interactions.context`: the leave-one-out user context text;
- :mod:`~rankwright.interactions.sampling`: per-user seeded generators, random
  (optionally popularity-weighted) and BM25 hard negatives;
- :mod:`~rankwright.interactions.splitting`: split by user or by time;
- :mod:`~rankwright.interactions.users`: one user's rows;
- :mod:`~rankwright.interactions.leakage`: the leakage check;
- :mod:`~rankwright.interactions.pipeline` / :mod:`~rankwright.interactions.cluster`:
  the Dask code path (local cluster, existing scheduler, or in-process);
- :mod:`~rankwright.interactions.output`: part files, merged JSONL/parquet per split;
- :mod:`~rankwright.interactions.evaluation`: per-user MAP/nDCG (trec_eval
  conventions), ROC-AUC/AP, popularity and random baselines.
"""
