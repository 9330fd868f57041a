"""``python -m consentgate`` runs the command line."""

from __future__ import annotations

import sys

from consentgate.cli import main

sys.exit(main())
