"""``python -m durable_backend``: the same CLI as the ``durable-backend`` console script."""

import sys

from durable_backend.cli import main

sys.exit(main())
