"""`python -m scanner` runs the tlsverify command line."""

import sys

from scanner.cli import main

sys.exit(main())
