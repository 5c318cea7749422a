"""``python -m rankwright``: the command line, also as launchers run it
(``torchrun --nproc_per_node=2 -m rankwright train ...``)."""

import sys

from rankwright.cli import main

if __name__ == "__main__":
    sys.exit(main())
