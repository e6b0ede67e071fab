"""`python -m scanner` runs the tlsverify command line."""

from scanner.cli import entry

entry()
