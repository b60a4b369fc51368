"""The engine tests' ``twin`` fixture: every plugin scenario runs on both twins."""

from tests.engine.conftest import twin as twin
