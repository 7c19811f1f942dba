"""``python -m promptlearn`` is the ``promptlearn`` command."""

import sys

from .app.cli import main

sys.exit(main())
