"""``python -m durable_backend`` and the ``durable-backend`` console script.

The CLI renders with rich, which the Lambda runtime does not need: it comes with the ``cli``
extra, and without it the CLI says so in one line instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.util import find_spec

MISSING_RICH = (
    "durable-backend: the CLI needs rich, from the cli extra: "
    "pip install 'durable_backend[cli]'"
)


def main(argv: Sequence[str] | None = None) -> int:
    if find_spec("rich") is None:
        print(MISSING_RICH, file=sys.stderr)
        return 2
    from durable_backend.cli import main as cli

    return cli(argv)


if __name__ == "__main__":
    sys.exit(main())
