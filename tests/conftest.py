"""Fixtures shared by the pytest suites (integration, interop)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))

from lab import start_lab  # noqa: E402


@pytest.fixture(scope="module")
def lab(request):
    """A lab of one node for the test module (tm timers shortened)."""
    return start_lab(request)
