"""`python -m soccerspot` is the `soccerspot` command."""
import sys

from soccerspot.pipeline.cli import main

sys.exit(main())
