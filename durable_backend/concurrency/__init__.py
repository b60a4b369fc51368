"""Map and parallel (official ``concurrency``); the public names are in ``.models``."""
