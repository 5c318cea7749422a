"""The one-command recipe's stages: candidates (first stage, dense cosine, judged
gains), training files, the warm-up and supervised phases, and selection on
validation queries. ``rankwright.commands.recipe`` runs them in order."""
