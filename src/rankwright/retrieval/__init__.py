"""First-stage scorers: BM25 over candidates or a whole corpus."""
