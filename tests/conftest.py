"""Shared fixtures."""

from tests.support.emulator import emulator, lambda_endpoint  # noqa: F401
