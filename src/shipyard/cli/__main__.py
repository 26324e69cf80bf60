"""``python -m shipyard.cli`` runs the CLI."""

from shipyard.cli import main

main()
