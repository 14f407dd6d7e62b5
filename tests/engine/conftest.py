"""Fixtures shared by the engine tests."""
import pytest

from .helpers import registry_with_test_types


@pytest.fixture
def reg():
    """The built-in node types plus the engine tests' own (helpers.registry_with_test_types)."""
    return registry_with_test_types()
