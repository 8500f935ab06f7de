"""`python -m pipeline.cli`: the same as the `newsmon` command."""

from pipeline.cli.main import main

main()
