"""`python -m helpers start|stop|status|url`: the lab's own Redis, for ./lab and binder/start."""

import sys

from .server import main

sys.exit(main())
