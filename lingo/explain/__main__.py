"""``python -m lingo.explain``."""

import sys

from lingo.explain.cli import main

sys.exit(main())
