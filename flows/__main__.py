"""`python -m flows ...`: the `touchless` command without the installed script."""

from flows.launch import main

main()
