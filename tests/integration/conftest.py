"""Fixtures of the integration tests: fresh rooms, and chat clients that leave when a test ends."""
import pytest

from xccos import ChatClient


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
