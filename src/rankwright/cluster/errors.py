"""The error a job's task raises on a worker (light: the CLI imports it)."""


class WorkerError(RuntimeError):
    """A task failed on a worker (or could not load what it needs); the message names
    the worker and the block."""
