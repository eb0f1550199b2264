"""``python -m agea_xr.cli``."""

import sys

from . import main

sys.exit(main())
