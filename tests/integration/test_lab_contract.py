"""scripts/lab keeps its contract (ARCHITECTURE.md, "Lab contract"): options, exit codes, lab.env
keys, process groups, clear messages, and never touching processes it did not start."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from lab import LAB, LAB_DRIVER, ROUTING, Lab, free_port_base, read_env

ENV_KEYS = ["PCHAT_LAB_ENV_VERSION", "PCHAT_DOMAIN", "PCHAT_POOL_URI", "PCHAT_SIP_HOST",
            "PCHAT_SIP_PORTS", "PCHAT_CTL", "PCHAT_NODE_PGIDS", "PCHAT_FRONTEND_PORT",
            "PCHAT_MYSQL_HOST", "PCHAT_MYSQL_PORT", "PCHAT_MYSQL_SOCKET", "PCHAT_MYSQL_USER",
            "PCHAT_MYSQL_PASSWORD", "PCHAT_MYSQL_DB", "PCHAT_REDIS_HOST", "PCHAT_REDIS_PORT",
            "PCHAT_DEMO_ROOM", "PCHAT_DEMO_USERS", "PCHAT_AUTH", "PCHAT_DEMO_PASSWORDS",
            "PCHAT_TRUSTED_PEER", "PCHAT_RPC_TOKEN", "PCHAT_TLS_CA", "PCHAT_TLS_CERT",
            "PCHAT_TLS_KEY", "PCHAT_HTTPS_PORTS", "PCHAT_HTTPS_URL", "PCHAT_FILE_ROOT",
            "PCHAT_WEB_URL", "PCHAT_WEB_ADMIN", "PCHAT_SIP_TLS_PORTS", "PCHAT_FRONTEND_TLS_PORT",
            "PCHAT_TLS_USER", "PCHAT_TLS_USER_CERT", "PCHAT_TLS_USER_KEY",
            "PCHAT_ROUTING", "PCHAT_DB_MODE", "PCHAT_GALERA_PORTS", "PCHAT_GALERA_SOCKETS",
            "PCHAT_REDIS_MODE", "PCHAT_REDIS_REPLICA_PORT", "PCHAT_REDIS_SENTINEL_PORTS",
            "PCHAT_REDIS_MASTER_NAME"]


@pytest.fixture(scope="module")
def lab2(request):
    """A two-node lab whose parts the tests stop and start."""
    lab = Lab(nodes=2, name="contract").up()

    def finish():
        lab.down()
        lab.remove()
    request.addfinalizer(finish)
    return lab


def env_of(lab):
    return read_env(os.path.join(lab.dir, "lab.env"))


def test_env_has_every_contract_key(lab2):
    env = env_of(lab2)
    assert list(k for k in ENV_KEYS if k not in env) == []
    assert env["PCHAT_LAB_ENV_VERSION"] == "1"
    assert len(env["PCHAT_SIP_PORTS"].split()) == 2
    assert len(env["PCHAT_CTL"].split()) == 2
    assert all(c.startswith("unix:") for c in env["PCHAT_CTL"].split())
    assert env["PCHAT_SIP_PORTS"].split() == [str(lab2.port_base), str(lab2.port_base + 1)]
    assert len(env["PCHAT_DEMO_USERS"].split()) == 3
    assert len(env["PCHAT_DEMO_PASSWORDS"].split()) == 3
    assert env["PCHAT_AUTH"] == "loopback" and env["PCHAT_TRUSTED_PEER"] == ""
    assert env["PCHAT_ROUTING"] == ROUTING
    # one Redis unless up says --redis sentinel (tests/integration/test_sentinel.py)
    assert env["PCHAT_REDIS_MODE"] == "single"
    assert env["PCHAT_REDIS_PORT"] == str(lab2.port_base + 101)
    assert [env[k] for k in ("PCHAT_REDIS_REPLICA_PORT", "PCHAT_REDIS_SENTINEL_PORTS",
                             "PCHAT_REDIS_MASTER_NAME")] == ["", "", ""]
    assert len(env["PCHAT_RPC_TOKEN"]) >= 32
    assert oct(os.stat(os.path.join(lab2.dir, "lab.env")).st_mode & 0o777) == "0o600"
    assert env["PCHAT_FRONTEND_PORT"] == str(lab2.port_base + 102)  # a pool has a front end
    assert env["PCHAT_HTTPS_PORTS"].split() == [str(lab2.port_base + 200),
                                                str(lab2.port_base + 201)]
    assert env["PCHAT_HTTPS_URL"] == "https://127.0.0.1:%d" % (lab2.port_base + 200)
    assert env["PCHAT_FILE_ROOT"] == os.path.join(lab2.dir, "files")
    assert os.path.isdir(env["PCHAT_FILE_ROOT"])
    assert env["PCHAT_WEB_URL"] == env["PCHAT_HTTPS_URL"] + "/PersistentChat/RM/"
    assert env["PCHAT_WEB_ADMIN"] in env["PCHAT_DEMO_USERS"].split()
    assert env["PCHAT_SIP_TLS_PORTS"].split() == [str(lab2.port_base + 300),
                                                  str(lab2.port_base + 301)]
    assert env["PCHAT_FRONTEND_TLS_PORT"] == str(lab2.port_base + 103)
    assert env["PCHAT_TLS_USER"] in env["PCHAT_DEMO_USERS"].split()
    # the shell can source it
    out = subprocess.run(["bash", "-c", "set -e; source %s/lab.env; echo $PCHAT_SIP_PORTS" %
                          lab2.dir], stdout=subprocess.PIPE, text=True, check=True).stdout
    assert out.split() == env["PCHAT_SIP_PORTS"].split()


def test_lab_ca_signs_a_server_certificate_for_loopback(lab2):
    env = env_of(lab2)
    ca, cert, key = env["PCHAT_TLS_CA"], env["PCHAT_TLS_CERT"], env["PCHAT_TLS_KEY"]
    verify = subprocess.run(["openssl", "verify", "-CAfile", ca, "-purpose", "sslserver", cert],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert verify.returncode == 0 and verify.stdout.strip().endswith("OK"), verify.stdout
    text = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-ext", "subjectAltName"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout
    assert "IP Address:127.0.0.1" in text and "DNS:localhost" in text, text
    # the key is the certificate's, and only the lab's user reads it
    pub = [subprocess.run(["openssl", kind, "-in", path, "-noout", "-pubkey"] if kind == "x509"
                          else ["openssl", kind, "-in", path, "-pubout"],
                          stdout=subprocess.PIPE, text=True, check=True).stdout
           for kind, path in (("x509", cert), ("pkey", key))]
    assert pub[0] == pub[1]
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    # the demo user's client certificate: the lab CA's, for TLS clients, naming the user
    user_cert = env["PCHAT_TLS_USER_CERT"]
    verify = subprocess.run(["openssl", "verify", "-CAfile", ca, "-purpose", "sslclient",
                             user_cert], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    assert verify.returncode == 0 and verify.stdout.strip().endswith("OK"), verify.stdout
    text = subprocess.run(["openssl", "x509", "-in", user_cert, "-noout", "-ext",
                           "subjectAltName", "-subject"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout
    assert "URI:%s" % env["PCHAT_TLS_USER"] in text and "CN = alice" in text, text
    assert oct(os.stat(env["PCHAT_TLS_USER_KEY"]).st_mode & 0o777) == "0o600"
    # made once: a second up keeps them
    before = open(cert).read()
    lab2.up()
    assert open(env_of(lab2)["PCHAT_TLS_CERT"]).read() == before


def test_each_node_serves_https_with_the_lab_certificate(lab2):
    """Every node answers on its HTTPS port with the server certificate the lab CA signed, and
    the status line of each node names its URL; the pool's public URL (every node's) is node
    1's."""
    env = env_of(lab2)
    for i, port in enumerate(env["PCHAT_HTTPS_PORTS"].split()):
        out = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", env["PCHAT_TLS_CA"],
                              "https://localhost:%s/health" % port], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        assert out.returncode == 0, out.stdout
        assert json.loads(out.stdout) == {"node": "node%d" % (i + 1), "service": "pchat",
                                          "status": "ok"}
    status = lab2.run("status", check=False).stdout
    for i, port in enumerate(env["PCHAT_HTTPS_PORTS"].split()):
        assert "node%d  up" % (i + 1) in status
        assert "https https://127.0.0.1:%s" % port in status
    for port in env["PCHAT_SIP_TLS_PORTS"].split() + [env["PCHAT_FRONTEND_TLS_PORT"]]:
        assert "tls 127.0.0.1:%s" % port in status
    assert "public URL %s" % env["PCHAT_HTTPS_URL"] in lab2.log(1)


def test_each_node_leads_its_own_process_group(lab2):
    for pgid in env_of(lab2)["PCHAT_NODE_PGIDS"].split():
        pids = subprocess.run(["pgrep", "-g", pgid], stdout=subprocess.PIPE, text=True).stdout
        assert len(pids.split()) > 3  # main + workers + timer + ctl ...
        assert os.getpgid(int(pgid)) == int(pgid)


def test_up_on_a_healthy_lab_succeeds_and_rewrites_env(lab2):
    os.remove(os.path.join(lab2.dir, "lab.env"))
    res = lab2.run("up", check=False)
    assert res.returncode == 0, res.stdout
    assert "starting" not in res.stdout  # nothing was restarted
    assert env_of(lab2)["PCHAT_SIP_PORTS"] == " ".join(map(str, lab2.sip_ports))


def test_status_reports_each_part_and_fails_when_one_is_down(lab2):
    res = lab2.run("status", check=False)
    assert res.returncode == 0, res.stdout
    lines = res.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["mysql", "up"], ["redis", "up"],
                                                    ["node1", "up"], ["node2", "up"],
                                                    ["front", "up"]]
    # kill -9 a node's whole process group (Kamailio children do not die with the main process)
    pgid = int(env_of(lab2)["PCHAT_NODE_PGIDS"].split()[1])
    os.killpg(pgid, signal.SIGKILL)
    deadline = time.time() + 5
    while time.time() < deadline and subprocess.run(["pgrep", "-g", str(pgid)],
                                                     stdout=subprocess.PIPE).returncode == 0:
        time.sleep(0.1)
    res = lab2.run("status", check=False)
    assert res.returncode != 0
    assert "node2  down" in res.stdout and "node1  up" in res.stdout
    assert "removing stale pid file node2/kamailio.pid" in res.stdout
    # up brings back only what is missing
    res = lab2.run("up", check=False)
    assert res.returncode == 0, res.stdout
    assert "starting Kamailio node 2" in res.stdout and "node 1" not in res.stdout
    assert lab2.run("status", check=False).returncode == 0


def test_down_never_kills_a_process_it_did_not_start(lab2):
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        redis_pid_file = os.path.join(lab2.dir, "redis", "redis.pid")
        with open(redis_pid_file) as f:
            real_redis = int(f.read())
        with open(redis_pid_file, "w") as f:
            f.write(str(stranger.pid))
        res = lab2.run("down", check=False)
        assert res.returncode == 0
        assert stranger.poll() is None, "down killed a process the lab did not start"
        assert "stale pid file" in res.stdout
        # the real Redis was not recorded any more, so it was left alone too: stop it ourselves
        os.kill(real_redis, signal.SIGTERM)
        assert lab2.run("down", check=False).returncode == 0  # already down: still 0
    finally:
        stranger.kill()
    res = lab2.run("up", check=False)
    assert res.returncode == 0, res.stdout


def test_routing_option_is_checked_before_anything_starts(tmp_path):
    """--routing takes native or lua, --redis single or sentinel, and only with 'up' (the lab's
    routing and Redis are what up chose)."""
    def lab(*args):
        return subprocess.run([LAB] + list(args) + ["--dir", str(tmp_path)], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    res = lab("up", "--routing", "perl")
    assert res.returncode != 0
    assert "unknown --routing 'perl': choose native" in res.stdout
    res = lab("status", "--routing", "lua")
    assert res.returncode != 0 and "only apply to 'up'" in res.stdout
    if LAB_DRIVER == "processes":  # the container lab runs one Redis and says so
        res = lab("up", "--redis", "cluster")
        assert res.returncode != 0
        assert "unknown --redis 'cluster': choose single" in res.stdout
        res = lab("down", "--redis", "sentinel")
        assert res.returncode != 0 and "only apply to 'up'" in res.stdout
    assert not (tmp_path / "lab.conf").exists()


@pytest.mark.parametrize("offset, what", [(101, "Redis"), (200, "HTTPS of node 1"),
                                          (300, "SIP over TLS of node 1")])
def test_port_in_use_is_refused_with_a_clear_message(offset, what):
    lab = Lab(name="busyport")
    base = free_port_base(1, start=31000)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", base + offset))
    blocker.listen()
    try:
        res = lab.run("up", "--port-base", str(base), check=False)
        assert res.returncode != 0
        assert "port %d (%s) is already in use" % (base + offset, what) in res.stdout
        assert "starting" not in res.stdout  # checked before anything was started
    finally:
        blocker.close()
        lab.run("down", check=False)
        lab.remove()


def test_lab_folder_of_an_older_layout_is_explained(lab2):
    conf = os.path.join(lab2.dir, "lab.conf")
    with open(conf) as f:
        original = f.read()
    with open(conf, "w") as f:
        f.write(original.replace("LAB_LAYOUT_SEEN=1", "LAB_LAYOUT_SEEN=0"))
    try:
        res = lab2.run("status", check=False)
        assert res.returncode != 0
        assert "older kamailio-pchat" in res.stdout and "scripts/lab down" in res.stdout
    finally:
        with open(conf, "w") as f:
            f.write(original)


def test_module_refuses_tables_older_than_it_needs(lab2):
    """The node does not start and the log names the migration to apply."""
    lab2.sql("UPDATE version SET table_version = 0 WHERE table_name = 'pchat_message'")
    try:
        pgid = int(env_of(lab2)["PCHAT_NODE_PGIDS"].split()[0])
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.time() + 10
        while time.time() < deadline and subprocess.run(["pgrep", "-g", str(pgid)],
                                                         stdout=subprocess.PIPE).returncode == 0:
            time.sleep(0.1)
        res = lab2.run("up", check=False)
        assert res.returncode != 0
        assert "node 1 exited during start" in res.stdout
        assert "table pchat_message is at version 0" in lab2.log(0)
        assert "apply db/mysql/008-ha.sql" in lab2.log(0)
    finally:
        lab2.sql("UPDATE version SET table_version = 2 WHERE table_name = 'pchat_message'")
    assert lab2.run("up", check=False).returncode == 0


def test_data_survives_a_restart_of_the_whole_lab(lab2):
    lab2.sql("INSERT INTO pchat_message (room_id, seq, author, ts, content) "
             "VALUES (1, 999999, 'sip:alice@pchat.test', UTC_TIMESTAMP(6), '<chat>kept</chat>')")
    assert lab2.run("down", check=False).returncode == 0
    assert lab2.run("up", check=False).returncode == 0
    assert lab2.sql("SELECT content FROM pchat_message WHERE seq = 999999") == \
        [["<chat>kept</chat>"]]
    lab2.sql("DELETE FROM pchat_message WHERE seq = 999999")


def test_two_labs_run_side_by_side(lab2):
    other = Lab(name="second").up()
    try:
        assert other.run("status", check=False).returncode == 0
        assert lab2.run("status", check=False).returncode == 0
        assert set(other.sip_ports).isdisjoint(lab2.sip_ports)
    finally:
        other.down()
        other.remove()
