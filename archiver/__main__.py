"""``python -m archiver`` runs the command line."""

from .cli import main

main()
