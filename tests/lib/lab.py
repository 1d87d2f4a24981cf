"""Starting and stopping a lab (scripts/lab) for a test module, on free ports in a fresh folder."""

import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# PCHAT_LAB_DRIVER: processes (scripts/lab, the default) or containers (scripts/container-lab,
# the same lab.env; tests marked "processes" are skipped there, see tests/conftest.py)
LAB_DRIVERS = {"processes": "lab", "containers": "container-lab"}
LAB_DRIVER = os.environ.get("PCHAT_LAB_DRIVER", "processes")
if LAB_DRIVER not in LAB_DRIVERS:
    raise RuntimeError("PCHAT_LAB_DRIVER must be processes or containers, not %r" % LAB_DRIVER)
LAB = os.path.join(TOP, "scripts", LAB_DRIVERS[LAB_DRIVER])
# Short tm timers so an unanswered request fails in seconds (fr_timer) and finished transactions
# do not linger (wt_timer).
TEST_DEFINES = "TM_FR_TIMER=3000 TM_WT_TIMER=1000"
# How the labs' nodes route (scripts/lab up --routing): PCHAT_LAB_ROUTING=lua runs a suite
# through kamailio-cfg/pchat.lua (make test-kemi); native, the lab's default, otherwise.
ROUTING = os.environ.get("PCHAT_LAB_ROUTING", "native")


def wait_for(check, timeout=10.0, interval=0.1):
    """True as soon as check() is, False when timeout seconds passed first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def port_free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def free_port_base(nodes=1, start=21000):
    """A port base whose node (SIP, HTTPS, SIP over TLS) ports and back-end and front-end ports
    (P+100 to P+119: MariaDB or Galera, Redis or Sentinel, the front end) are all free."""
    for base in range(start, 60000, 311):
        ports = [base + i for i in range(nodes)] + list(range(base + 100, base + 120)) + \
            [base + 200 + i for i in range(nodes)] + [base + 300 + i for i in range(nodes)]
        if all(port_free(p) for p in ports):
            return base
    raise RuntimeError("no free port range found")


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v.strip('"')
    return env


class Lab:
    """auth: scripts/lab up --auth (loopback, trusted, digest, cert); None leaves the lab's choice.
    routing: scripts/lab up --routing (native, lua); PCHAT_LAB_ROUTING's by default.
    db: scripts/lab up --db (single, galera); redis: scripts/lab up --redis (single, sentinel);
    None leaves the lab's choice."""

    def __init__(self, nodes=1, defines=TEST_DEFINES, name="lab", auth=None, routing=ROUTING,
                 db=None, redis=None):
        self.nodes = nodes
        self.db = db
        self.defines = defines
        self.auth = auth
        self.routing = routing
        self.redis = redis
        self.dir = tempfile.mkdtemp(prefix="pchat-%s-" % name, dir="/tmp")
        self.port_base = None
        self.env = {}

    def run(self, *args, check=True):
        env = dict(os.environ, PCHAT_LAB_DEFINES=self.defines)
        return subprocess.run([LAB] + list(args) + ["--dir", self.dir], env=env, check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def up(self):
        self.port_base = self.port_base or free_port_base(self.nodes)
        args = ["up", "--nodes", str(self.nodes), "--port-base", str(self.port_base)]
        if self.auth:
            args += ["--auth", self.auth]
        if self.redis:
            args += ["--redis", self.redis]
        args += ["--routing", self.routing]
        if self.db:
            args += ["--db", self.db]
        res = self.run(*args, check=False)
        if res.returncode != 0:
            logs = self.logs()
            self.down()  # what did start must not outlive the failure
            raise RuntimeError("%s up failed:\n" % os.path.relpath(LAB, TOP) + res.stdout + logs)
        self.env = read_env(os.path.join(self.dir, "lab.env"))
        return self

    def down(self):
        return self.run("down", check=False)

    @property
    def sip_ports(self):
        return [int(p) for p in self.env["PCHAT_SIP_PORTS"].split()]

    @property
    def ctl(self):
        return self.env["PCHAT_CTL"].split()

    @property
    def https_ports(self):
        return [int(p) for p in self.env["PCHAT_HTTPS_PORTS"].split()]

    def sip_server(self, node=0):
        return ("127.0.0.1", self.sip_ports[node])

    @property
    def sip_tls_ports(self):
        return [int(p) for p in self.env["PCHAT_SIP_TLS_PORTS"].split()]

    def sip_tls_server(self, node=0):
        return ("127.0.0.1", self.sip_tls_ports[node])

    def tls_context(self, user_cert=False):
        """A client's TLS context that trusts the lab CA only; with user_cert, presenting the
        client certificate the lab issued to its TLS user (PCHAT_TLS_USER)."""
        ctx = ssl.create_default_context(cafile=self.env["PCHAT_TLS_CA"])
        if user_cert:
            ctx.load_cert_chain(self.env["PCHAT_TLS_USER_CERT"], self.env["PCHAT_TLS_USER_KEY"])
        return ctx

    @property
    def frontend(self):
        """The SIP address of a pool's front end."""
        return ("127.0.0.1", int(self.env["PCHAT_FRONTEND_PORT"]))

    @property
    def passwords(self):
        """The demo users' digest passwords: {"alice": ..., ...}."""
        users = [u.split(":", 1)[1].split("@")[0] for u in self.env["PCHAT_DEMO_USERS"].split()]
        return dict(zip(users, self.env["PCHAT_DEMO_PASSWORDS"].split()))

    def http_rpc(self, method, *params, node=0, token=True, content_type="application/json",
                 http_method="POST", path="/RPC", headers=()):
        """JSON-RPC over HTTP on a node's SIP TCP port, with the lab's bearer token (token=True),
        another one (a string) or none (False): (HTTP status, the decoded reply or the text)."""
        body = json.dumps({"jsonrpc": "2.0", "method": method, "params": list(params),
                           "id": 1}).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.sip_ports[node], path),
                                     data=body if http_method == "POST" else None,
                                     method=http_method)
        if content_type:
            req.add_header("Content-Type", content_type)
        if token:
            req.add_header("Authorization", "Bearer %s" % (
                self.env["PCHAT_RPC_TOKEN"] if token is True else token))
        for name, value in headers:
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def jsonrpc(self, method, *params, node=0):
        """The reply of a JSON-RPC command sent as an administration tool does."""
        status, reply = self.http_rpc(method, *params, node=node)
        assert status == 200, "JSON-RPC %s answered %s: %s" % (method, status, reply)
        return reply

    def kamcmd(self, *args, node=0, check=True):
        res = subprocess.run(["kamcmd", "-s", self.ctl[node]] + [str(a) for a in args],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and res.returncode != 0:
            raise RuntimeError("kamcmd %s failed: %s" % (" ".join(map(str, args)), res.stdout))
        return res.stdout

    def stat(self, name, node=0):
        """A statistic of the pchat module on a node, as a number."""
        out = self.kamcmd("stats.get_statistics", "pchat:", node=node)
        return int(re.search(r"^pchat:%s = (\d+)" % name, out, re.M).group(1))

    def sql_argv(self, db=True, server=0):
        """The mariadb client command line of the lab's MariaDB root (utf8mb4 both ways: the
        client's default, utf8mb3, turns characters beyond the BMP into '?'); server: which
        node of a Galera cluster (0 is the single server's place)."""
        sockets = self.env.get("PCHAT_GALERA_SOCKETS", "").split() or [
            self.env["PCHAT_MYSQL_SOCKET"]]
        cmd = ["mariadb", "--no-defaults", "-S", sockets[server], "-u", "root",
               "--batch", "--skip-column-names", "--default-character-set=utf8mb4"]
        return cmd + [self.env["PCHAT_MYSQL_DB"]] if db else cmd

    def sql(self, query, db=True, server=0):
        """Runs SQL as the lab's MariaDB root; returns the rows as lists of strings."""
        res = subprocess.run(self.sql_argv(db, server) + ["-e", query], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, check=True)
        return [line.split("\t") for line in res.stdout.splitlines()]

    def kill_node(self, node):
        """kill -9 of a node's whole process group, as a crash would (lab.up() starts it
        again). The processes are dead at once, gone once reaped (node_gone)."""
        os.killpg(int(self.env["PCHAT_NODE_PGIDS"].split()[node]), signal.SIGKILL)

    def node_gone(self, node):
        """No process of the node's group is left (a killed one is gone once reaped)."""
        try:
            os.killpg(int(self.env["PCHAT_NODE_PGIDS"].split()[node]), 0)
            return False
        except ProcessLookupError:
            return True

    def mysql_pid(self, server=0):
        """The pid of the lab's MariaDB, or of node server+1 of its Galera cluster."""
        folder = "mysql" if server == 0 else "mysql%d" % (server + 1)
        with open(os.path.join(self.dir, folder, "mysqld.pid")) as f:
            return int(f.read())

    def kill_mysql(self, server=0, sig=signal.SIGKILL):
        """kill -9 of the lab's MariaDB, or of a Galera node (lab.up() starts it again, with
        crash recovery)."""
        os.kill(self.mysql_pid(server), sig)

    def new_room(self, label="test", privacy="open", server=0):
        """A fresh room in the lab's category, so a test's counts and orders start from nothing;
        returns its ma-chan:// URI. server: the Galera node to write it through."""
        guid = str(uuid.uuid4())
        self.sql("INSERT INTO pchat_room (guid, name, topic, category_id, privacy) VALUES "
                 "('%s', '%s %s', 'testing', 1, '%s')" % (guid, label, guid[:8], privacy),
                 server=server)
        return "ma-chan://%s/%s" % (self.env["PCHAT_DOMAIN"], guid)

    def stored(self, room, server=0):
        """The posts stored for a room: [seq, author, content] rows in seq order (read on the
        Galera node server)."""
        guid = room.rsplit("/", 1)[1]
        return self.sql("SELECT m.seq, m.author, m.content FROM pchat_message m JOIN pchat_room r "
                        "ON r.id = m.room_id WHERE r.guid = '%s' ORDER BY m.seq" % guid,
                        server=server)

    def log_path(self, node=0):
        part = "frontend" if node == "frontend" else "node%d" % (node + 1)
        return os.path.join(self.dir, part, "kamailio.log")

    def log(self, node=0, since=0):
        """A node's Kamailio log; node="frontend" for the front end's. since: what was written
        after log_mark() returned it, so a check sees only what the test itself caused (a lab
        lives for a whole module, and an earlier test may have logged the same words)."""
        with open(self.log_path(node), "rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", errors="replace")

    def log_mark(self, node=0):
        """Where the node's log ends now: pass it to log(since=...)."""
        return os.path.getsize(self.log_path(node))

    def logs(self):
        out = []
        for root, _, files in os.walk(self.dir):
            for name in files:
                if name.endswith(".log"):
                    with open(os.path.join(root, name), errors="replace") as f:
                        out.append("---- %s (last lines)\n%s" % (
                            os.path.join(root, name), "".join(f.readlines()[-30:])))
        return "\n".join(out)

    def keep_logs(self, dest):
        """Copies the logs to dest (CI artifacts) before the folder is removed."""
        for root, _, files in os.walk(self.dir):
            for name in files:
                if name.endswith(".log"):
                    rel = os.path.relpath(os.path.join(root, name), self.dir)
                    os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                    shutil.copy(os.path.join(root, name), os.path.join(dest, rel))

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def start_lab(request, tag=None, **kw):
    """A lab for one pytest module (or class: the fixture's scope), stopped when it is done; its
    logs are kept in build/test-logs/<module>/ (/<tag>/ when a module runs several labs)."""
    lab = Lab(name=(tag or request.module.__name__.split(".")[-1])[:12], **kw).up()

    def finish():
        lab.down()
        logs = os.path.join(TOP, "build", "test-logs", request.module.__name__)
        lab.keep_logs(os.path.join(logs, tag) if tag else logs)
        lab.remove()
    request.addfinalizer(finish)
    return lab
