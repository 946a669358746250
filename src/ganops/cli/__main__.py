"""`python -m ganops.cli ...` runs the `ganops` command."""

from ganops.cli.main import main

main()
