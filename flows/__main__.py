"""`python -m flows ...`: the `touchless` command without the installed script."""

from flows.cli import main

main()
