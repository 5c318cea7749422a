#!/usr/bin/env bash
# BM25 and random-order baselines of the foundation issue, with the shipped configs:
# Home Depot (test split of a 70/15/15 query split, seed 42; BM25 over each query's
# candidates, IDF over all 74,067 rows) and Cranfield (all 225 queries, BM25 top-100
# retrieval over the 1,400 documents, title + abstract, gain = 5 - grade, -1 -> 0).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
rankwright evaluate --config configs/homedepot_bm25.yaml --output_dir bench/results/homedepot_bm25 --progress false --overwrite true
rankwright evaluate --config configs/cranfield_bm25.yaml --output_dir bench/results/cranfield_bm25 --progress false --overwrite true
