"""`python -m d2lseg.train`: train an FCN from the command line (see d2lseg.cli)."""

from ..cli import main

main()
