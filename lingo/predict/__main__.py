"""``python -m lingo.predict``."""

import sys

from lingo.predict.cli import main

sys.exit(main())
