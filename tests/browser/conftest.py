"""Fixtures of the browser tests: a headless Chromium that trusts the module's lab CA, started
once per module and given to each test in a fresh browser context."""
import pytest

from browser import Browser


@pytest.fixture(scope="module")
def chromium(request, lab):
    """The module's Chromium, trusting its lab's CA (each lab makes its own)."""
    b = Browser(lab.env["PCHAT_TLS_CA"], name=request.module.__name__)
    yield b
    b.close()


@pytest.fixture
def browser(chromium):
    """The module's Chromium in a new context: nothing a previous test did (cookies, storage, a
    navigation still under way) reaches this one."""
    chromium.reset()
    return chromium
