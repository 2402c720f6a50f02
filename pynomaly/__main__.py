"""``python -m pynomaly`` runs the command line."""

from pynomaly.cli.main import main

main()
