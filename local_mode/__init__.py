"""Local mode: the real handlers on 127.0.0.1, with embedded stand-ins for the cloud around them."""

import sys
from pathlib import Path

# The Lambda package lives in lambdas/ (the asset root); make it importable from a checkout.
_LAMBDAS = str(Path(__file__).resolve().parent.parent / "lambdas")
if _LAMBDAS not in sys.path:
    sys.path.insert(0, _LAMBDAS)
