"""Shared test configuration: hypothesis profiles are registered once, here."""

import os

import hypothesis

hypothesis.settings.register_profile("default", deadline=None, print_blob=True, max_examples=60)
hypothesis.settings.register_profile(
    "ci", deadline=None, print_blob=True, max_examples=60, derandomize=True, database=None
)
hypothesis.settings.load_profile("ci" if os.environ.get("CI") else "default")

from tests.migrations import url  # noqa: E402, F401 - the store URL fixture (each backend)
