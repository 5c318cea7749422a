"""Hard-negative mining: retrieve candidates per query, drop likely false negatives
with a teacher, sample negatives from a rank window, write grouped JSONL."""
