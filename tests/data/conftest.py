"""Fixtures of the data tests."""
import pytest

from _data_helpers import synthetic_batch


@pytest.fixture
def batch():
    return synthetic_batch()
