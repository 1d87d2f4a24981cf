"""Helpers of the Debian package's tests: the package built by scripts/deb and what it holds."""
import os
import subprocess
import time

from lab import TOP

PACKAGE = "kamailio-pchat-module"
EXAMPLES = "/usr/share/doc/%s/examples" % PACKAGE
SHARE = "/usr/share/kamailio-pchat"


def timed(what, started):
    print("test_deb: %s took %.1f s" % (what, time.time() - started), flush=True)


def run(argv, check=True, timeout=900):
    res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s" % (" ".join(argv), res.returncode, res.stdout))
    return res


def build_deb():
    """scripts/deb (make deb): the package's path."""
    started = time.time()
    path = run([os.path.join(TOP, "scripts", "deb")]).stdout.strip().splitlines()[-1]
    timed("make deb", started)
    assert os.path.isfile(path), path
    return path


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


def host_kamailio_release():
    """The upstream release of the kamailio installed here (5.6.3 of 5.6.3-2)."""
    version = run(["dpkg-query", "-W", "-f=${Version}", "kamailio"]).stdout
    return version.split(":")[-1].rsplit("-", 1)[0]


def pchat_version():
    with open(os.path.join(TOP, "modules", "pchat", "pchat_node.h")) as f:
        return [line.split('"')[1] for line in f if line.startswith("#define PCHAT_VERSION ")][0]


def modules_dir():
    """Kamailio's module folder (scripts/common.sh's kamailio_modules_dir)."""
    return run(["bash", "-c", "source %s/scripts/common.sh && kamailio_modules_dir" % TOP]
               ).stdout.strip()
