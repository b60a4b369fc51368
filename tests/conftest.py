"""Shared fixtures."""

from tests.support.emulator import emulator, lambda_endpoint  # noqa: F401
from tests.support.service_env import approval_function  # noqa: F401
