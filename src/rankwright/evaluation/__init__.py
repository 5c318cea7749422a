"""Ranking metrics (trec_eval conventions), classification metrics, and outputs."""
