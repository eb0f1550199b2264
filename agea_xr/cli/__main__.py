"""``python -m agea_xr.cli``."""

import sys

try:
    from . import main
except KeyboardInterrupt:  # pragma: no cover - interrupted while importing
    sys.exit(130)

sys.exit(main())
