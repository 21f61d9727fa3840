"""``python -m cimnet_bo.cli``: the ``cimnet-bo`` command line."""

import sys

from cimnet_bo.cli import main

if __name__ == "__main__":
    sys.exit(main())
