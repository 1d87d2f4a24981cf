"""The Debian package (make deb) as an operator installs it: `apt-get install ./...deb` into a
clean Debian 12 container pulls Kamailio from Debian; Kamailio started there with the installed
module, the installed example config and the installed page serves chat against the lab's
MariaDB and Redis; db-migrate works from /usr/share/kamailio-pchat; `dpkg -r` removes every file.

The container image with the package's dependencies installed (the clean container after the
first install and a `dpkg -r`) is kept as a local image named by a digest of the package's
Depends and Recommends and of the base image, so later runs install the package without
downloading; PCHAT_DEB_TEST_FRESH=1 starts from the clean base image again. Timings are printed
(scripts/test package runs pytest with -s)."""
import hashlib
import os
import shlex
import ssl
import time
import urllib.request

import pytest

from debpkg import (EXAMPLES, PACKAGE, SHARE, field, host_kamailio_release, modules_dir,
                    pchat_version, run, timed)
from lab import TOP, port_free, wait_for
from xccos import ChatClient, post_text, resp_code

CACHE = "localhost/pchat-deb-test"


@pytest.fixture(scope="module")
def podman():
    """The podman command line scripts/container-base says this machine needs."""
    res = run([os.path.join(TOP, "scripts", "container-base")])
    return res.stdout.strip().splitlines()[-1].split()


@pytest.fixture(scope="module")
def image(podman, deb):
    """An image of Debian 12 with the package's dependencies installed by apt from Debian,
    built once per set of dependencies from the clean base image by installing the package the
    way an operator does, then removing it."""
    base = "docker.io/library/debian:bookworm-slim"
    base_id = run(podman + ["image", "inspect", "-f", "{{.Id}}", base]).stdout.strip()
    key = hashlib.sha256("\n".join([base_id, field(deb, "Depends"),
                                    field(deb, "Recommends")]).encode()).hexdigest()[:16]
    tag = "%s:%s" % (CACHE, key)
    if os.environ.get("PCHAT_DEB_TEST_FRESH") != "1" and \
            run(podman + ["image", "exists", tag], check=False).returncode == 0:
        print("test_deb: reusing %s (the package's dependencies, installed before)" % tag)
        return tag
    # the images of earlier dependencies (or this one, PCHAT_DEB_TEST_FRESH) go
    for old in run(podman + ["images", "--format", "{{.ID}}", CACHE]).stdout.split():
        run(podman + ["rmi", "-f", old], check=False)
    name = "pchat-deb-prime-%d" % os.getpid()
    started = time.time()
    run(podman + ["run", "-d", "--name", name, "-v", "%s:/deb:ro" % os.path.dirname(deb),
                  base, "sleep", "infinity"])
    try:
        # No service starts inside the container when a package is installed (Debian's
        # kamailio would start on 5060 of the host's network otherwise).
        run(podman + ["exec", name, "sh", "-c",
                      "printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && "
                      "chmod 755 /usr/sbin/policy-rc.d"])
        res = run(podman + ["exec", "-e", "DEBIAN_FRONTEND=noninteractive", "-w", "/deb", name,
                            "sh", "-c", "apt-get update -q && apt-get install -y -q ./%s"
                            % os.path.basename(deb)])
        timed("apt-get update and install into the clean container", started)
        assert "Setting up kamailio (" in res.stdout, res.stdout[-3000:]
        assert installed_status(podman, name) == "install ok installed"
        version = run(podman + ["exec", name, "dpkg-query", "-W", "-f=${Version}",
                                "kamailio"]).stdout
        assert version.startswith(host_kamailio_release()), version
        run(podman + ["exec", name, "dpkg", "-r", PACKAGE])
        run(podman + ["commit", "-q", name, tag])
    finally:
        run(podman + ["rm", "-f", "-t", "0", name], check=False)
    timed("building %s" % tag, started)
    return tag


def installed_status(podman, container):
    """dpkg's status of the package in the container; empty when dpkg does not know it."""
    res = run(podman + ["exec", container, "dpkg-query", "-W", "-f=${Status}", PACKAGE],
              check=False)
    return res.stdout.strip() if res.returncode == 0 else ""


@pytest.fixture(scope="module")
def container(podman, deb, image, lab):
    """A container of that image with the package, the lab's TLS folder and a log folder
    mounted; host networking (scripts/container-base's containers.conf)."""
    logs = os.path.join(TOP, "build", "test-logs", "test_deb_install", "container")
    os.makedirs(logs, exist_ok=True)
    name = "pchat-deb-%d" % os.getpid()
    run(podman + ["run", "-d", "--name", name, "-v", "%s:/deb:ro" % os.path.dirname(deb),
                  "-v", "%s:/tls:ro" % os.path.dirname(lab.env["PCHAT_TLS_CA"]),
                  "-v", "%s:/log" % logs, image, "sleep", "infinity"])
    yield name
    run(podman + ["rm", "-f", "-t", "0", name], check=False)


@pytest.fixture(scope="module")
def ports(lab):
    """SIP, ctl and HTTPS ports of the container's Kamailio: free, above the lab's."""
    found, port = [], lab.port_base + 300
    while len(found) < 3:
        if port_free(port):
            found.append(port)
        port += 1
    return dict(zip(("sip", "ctl", "https"), found))


def test_apt_installs_the_package(podman, deb, container):
    started = time.time()
    run(podman + ["exec", "-e", "DEBIAN_FRONTEND=noninteractive", "-w", "/deb", container,
                  "apt-get", "install", "-y", "-q", "./" + os.path.basename(deb)])
    timed("apt-get install into the prepared container", started)
    assert installed_status(podman, container) == "install ok installed"
    run(podman + ["exec", container, "test", "-f", modules_dir() + "/pchat.so"])


def kamailio_argv(lab, ports):
    env = lab.env
    db_url = "mysql://%s:%s@127.0.0.1:%s/%s" % (env["PCHAT_MYSQL_USER"], env["PCHAT_MYSQL_PASSWORD"],
                                                env["PCHAT_MYSQL_PORT"], env["PCHAT_MYSQL_DB"])
    defines = ["PCHAT_AUTH_LOOPBACK", 'PCHAT_DB_URL="%s"' % db_url,
               'PCHAT_REDIS_URL="redis://127.0.0.1:%s/0"' % env["PCHAT_REDIS_PORT"],
               'PCHAT_CTL="tcp:127.0.0.1:%d"' % ports["ctl"], 'PCHAT_NODE_ID="debnode"',
               'PCHAT_HTTP_LISTEN="127.0.0.1:%d"' % ports["https"],
               'PCHAT_HTTP_PUBLIC_URL="https://127.0.0.1:%d"' % ports["https"],
               'PCHAT_HTTP_TLS_CERTIFICATE="/tls/server.crt"',
               'PCHAT_HTTP_TLS_PRIVATE_KEY="/tls/server.key"',
               'PCHAT_WEB_ROOT="%s/web"' % SHARE, "TM_FR_TIMER=3000", "TM_WT_TIMER=1000"]
    argv = ["kamailio", "-f", EXAMPLES + "/kamailio.cfg", "-DD", "-E", "-m", "256", "-M", "16",
            "-Y", "/tmp/kamailio-run", "-l", "udp:127.0.0.1:%d" % ports["sip"],
            "-l", "tcp:127.0.0.1:%d" % ports["sip"]]
    for d in defines:
        argv += ["-A", d]
    return argv


def status(ports, rpc="pchat.status"):
    return run(["kamcmd", "-s", "tcp:127.0.0.1:%d" % ports["ctl"], rpc], check=False)


def test_kamailio_serves_chat_with_the_installed_module(podman, container, lab, ports):
    """The installed example config (it includes the installed pchat.cfg and pchat-auth.cfg),
    the installed module from Kamailio's module folder (no -L), the installed page."""
    started = time.time()
    command = "mkdir -p /tmp/kamailio-run && echo $$ >/tmp/kamailio.pid && exec %s " \
        ">/log/kamailio.log 2>&1" % " ".join(shlex.quote(a) for a in kamailio_argv(lab, ports))
    run(podman + ["exec", "-d", "-e", "PCHAT_RPC_TOKEN=" + lab.env["PCHAT_RPC_TOKEN"], container,
                  "sh", "-c", command])
    log = os.path.join(TOP, "build", "test-logs", "test_deb_install", "container", "kamailio.log")
    assert wait_for(lambda: status(ports).returncode == 0, timeout=30), \
        open(log, errors="replace").read()[-4000:]
    timed("Kamailio start in the container", started)
    assert "node: debnode" in status(ports, "pchat.pool").stdout
    out = status(ports).stdout
    assert "version: %s" % pchat_version() in out, out
    mysql, redis = out.split("mysql: {")[1].split("}")[0], out.split("redis: {")[1].split("}")[0]
    assert "state: up" in mysql and "state: up" in redis, out

    alice = ChatClient(("127.0.0.1", ports["sip"]), "alice", proto="tcp")
    try:
        alice.login()
        room = lab.new_room("deb")
        assert resp_code(alice.join(room)) == 200
        assert alice.post(room, "hello from the package").status == 200
        uri, author, text, _ = post_text(alice.wait_posts(1)[0])
        assert (uri, author, text) == (room, "sip:alice@pchat.test", "hello from the package")
        assert [r[1:] for r in lab.stored(room)] == [["sip:alice@pchat.test",
                                                       "<chat>hello from the package</chat>"]]
    finally:
        alice.close()

    # the room-management page, from /usr/share/kamailio-pchat/web
    context = ssl.create_default_context(cafile=lab.env["PCHAT_TLS_CA"])
    with urllib.request.urlopen("https://127.0.0.1:%d/PersistentChat/RM/app.css" % ports["https"],
                                context=context, timeout=10) as resp:
        served = resp.read()
    with open(os.path.join(TOP, "modules", "pchat", "web", "app.css"), "rb") as f:
        assert served == f.read()


def db_migrate(podman, container, lab, *args):
    env = lab.env
    return run(podman + ["exec", container, SHARE + "/scripts/db-migrate"] + list(args) + [
        "-h", "127.0.0.1", "-P", env["PCHAT_MYSQL_PORT"], "-u", env["PCHAT_MYSQL_USER"],
        "-p" + env["PCHAT_MYSQL_PASSWORD"]], check=False)


def test_db_migrate_runs_from_its_installed_folder(podman, container, lab):
    """It finds the installed migrations: the lab's database is current, and an empty one gets
    every migration."""
    newest = int(sorted(os.listdir(os.path.join(TOP, "db", "mysql")))[-1].split("-")[0])
    res = db_migrate(podman, container, lab, "--check", lab.env["PCHAT_MYSQL_DB"])
    assert res.returncode == 0, res.stdout
    assert "is at schema version %d, nothing to apply" % newest in res.stdout, res.stdout

    lab.sql("CREATE DATABASE pchat_deb; GRANT ALL ON pchat_deb.* TO '%s'@'127.0.0.1'"
            % lab.env["PCHAT_MYSQL_USER"], db=False)
    res = db_migrate(podman, container, lab, "pchat_deb")
    assert res.returncode == 0, res.stdout
    assert "applying db/mysql/001-initial.sql" in res.stdout, res.stdout
    assert "database 'pchat_deb' is now at schema version %d" % newest in res.stdout, res.stdout


def test_dpkg_removes_every_file(podman, deb, container, ports):
    files = [line.split(" ./", 1)[1] for line in run(["dpkg-deb", "-c", deb]).stdout.splitlines()
             if line.startswith("-")]
    pid = run(podman + ["exec", container, "sh", "-c", "cat /tmp/kamailio.pid 2>/dev/null"],
              check=False).stdout.strip()
    if pid:
        run(podman + ["exec", container, "sh", "-c", "kill %d" % int(pid)])
        assert wait_for(lambda: status(ports).returncode != 0, timeout=15)
    run(podman + ["exec", container, "dpkg", "-r", PACKAGE])
    # no conffiles: nothing of it is left for dpkg to know
    assert installed_status(podman, container) in ("", "unknown ok not-installed")
    left = run(podman + ["exec", container, "sh", "-c", "for f in %s; do [ ! -e \"/$f\" ] || "
                         "echo \"/$f\"; done" % " ".join(shlex.quote(f) for f in files)]).stdout
    assert left == "", left
    for folder in (SHARE, "/usr/share/doc/" + PACKAGE):
        assert run(podman + ["exec", container, "test", "-e", folder], check=False).returncode != 0
