"""Fixtures of the Debian package's tests."""
import pytest

from debpkg import build_deb


@pytest.fixture(scope="session")
def deb():
    """The package, built once for the session by scripts/deb."""
    return build_deb()
