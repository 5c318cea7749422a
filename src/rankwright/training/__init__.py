"""Training: epoch-wise group sampling, collation, and a thin transformers.Trainer subclass."""
