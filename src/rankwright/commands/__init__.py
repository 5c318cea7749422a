"""One module per CLI command: a config dataclass and a ``main(config)``."""
