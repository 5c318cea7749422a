"""One module per CLI command with a ``main(config)``; the config dataclasses live in light
modules (:mod:`rankwright.commands.configs`, ``rankwright.training.config``, ...), re-exported
by the command modules, and :mod:`rankwright.commands.registry` names both for the parser."""
