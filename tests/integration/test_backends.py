"""The module's MySQL and Redis clients (C, built with ASan/UBSan) against the lab's real servers."""
import os
import subprocess

from lab import TOP


def test_c_backend_suite(lab):
    binary = os.path.join(TOP, "tests", "unit", "build", "test_backends")
    subprocess.run(["make", "-s", "-C", os.path.join(TOP, "tests", "unit"), "backend"], check=True)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1", **lab.env)
    res = subprocess.run([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=120)
    print(res.stdout)
    assert res.returncode == 0, res.stdout
    assert "FAILED" not in res.stdout
