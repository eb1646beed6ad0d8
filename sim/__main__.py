"""``python -m sim``: the same as ``isru sim``."""

import sys

from sim.cli import main

sys.exit(main())
