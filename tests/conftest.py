"""Registers the shared fixtures (tests/support/fixtures.py) for every test folder, and asks
pytest to rewrite the asserts of the support helpers as it does those of test modules."""

import pytest

pytest.register_assert_rewrite("tests.support")

pytest_plugins = ["tests.support.fixtures"]
