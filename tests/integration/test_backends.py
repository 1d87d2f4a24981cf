"""The module's MySQL and Redis clients and its pool presence (C, built with ASan/UBSan) against
the lab's real servers."""
import os
import subprocess

import pytest

from lab import TOP


@pytest.mark.parametrize("suite", ["test_backends", "test_presence"])
def test_c_backend_suite(lab, suite):
    binary = os.path.join(TOP, "tests", "unit", "build", suite)
    subprocess.run(["make", "-s", "-C", os.path.join(TOP, "tests", "unit"), "backend"], check=True)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", **lab.env)
    res = subprocess.run([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=120)
    print(res.stdout)
    assert res.returncode == 0, res.stdout
    assert "FAILED" not in res.stdout
