"""`python -m langmodels ...` and `torchrun -m langmodels train ...` run the `langmodels` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
