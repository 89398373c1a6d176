"""Fixtures of the end-to-end tests (see `tests.e2e.harness`)."""

from tests.e2e.harness import live_platform

__all__ = ["live_platform"]
