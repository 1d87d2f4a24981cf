import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))

from lab import Lab, TOP  # noqa: E402


def start_lab(request, **kw):
    """A lab for one test module; its logs are kept in build/test-logs/<module>/."""
    lab = Lab(name=request.module.__name__.split(".")[-1][:12], **kw).up()

    def finish():
        lab.down()
        lab.keep_logs(os.path.join(TOP, "build", "test-logs", request.module.__name__))
        lab.remove()
    request.addfinalizer(finish)
    return lab


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request)
