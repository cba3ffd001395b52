"""``python -m derive`` runs the command-line interface."""

from .cli import main

main()
