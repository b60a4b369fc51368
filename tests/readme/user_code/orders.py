"""The user's own module that README snippets import (``from orders import handler``): here,
the order workflow example."""

from examples.order_workflow import handler

__all__ = ["handler"]
