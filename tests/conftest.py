"""Fixtures shared by the pytest suites (integration, interop, browser): a lab, fresh rooms, and
chat clients that leave when a test ends."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))

from lab import LAB_DRIVER, start_lab  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "processes: the test kills the lab's processes or reads their pid files; "
        "skipped against the container lab (PCHAT_LAB_DRIVER=containers)")


def pytest_runtest_setup(item):
    if LAB_DRIVER == "containers" and item.get_closest_marker("processes"):
        pytest.skip("kills or reads the lab's processes, which the container lab keeps in "
                    "containers (PCHAT_LAB_DRIVER=containers)")
from xccos import ChatClient  # noqa: E402


@pytest.fixture(scope="module")
def lab(request):
    """A lab of one node for the test module (tm timers shortened)."""
    return start_lab(request)


@pytest.fixture
def room(lab):
    """A fresh open room for one test."""
    return lab.new_room()


@pytest.fixture
def clients(lab):
    """clients(user, proto="udp", node=0, **kw): a logged-in chat client on a node of the lab."""
    made = []

    def make(user, proto="udp", node=0, **kw):
        c = ChatClient(lab.sip_server(node), user, proto=proto, **kw)
        c.login()
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()
