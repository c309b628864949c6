"""``python -m regression_gate``."""

import sys

from regression_gate.cli import main

if __name__ == "__main__":
    sys.exit(main())
