"""Starting and stopping a lab (scripts/lab) for a test module, on free ports in a fresh folder."""

import os
import shutil
import socket
import subprocess
import tempfile
import uuid

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LAB = os.path.join(TOP, "scripts", "lab")
# Short tm timers so an unanswered request fails in seconds (fr_timer) and finished transactions
# do not linger (wt_timer).
TEST_DEFINES = "TM_FR_TIMER=3000 TM_WT_TIMER=1000"


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
    """A port base whose node, MariaDB, Redis and front-end ports are all free."""
    for base in range(start, 60000, 211):
        ports = [base + i for i in range(nodes)] + [base + 100, base + 101, base + 102]
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
    def __init__(self, nodes=1, defines=TEST_DEFINES, name="lab"):
        self.nodes = nodes
        self.defines = defines
        self.dir = tempfile.mkdtemp(prefix="pchat-%s-" % name, dir="/tmp")
        self.port_base = None
        self.env = {}

    def run(self, *args, check=True):
        env = dict(os.environ, PCHAT_LAB_DEFINES=self.defines)
        return subprocess.run([LAB] + list(args) + ["--dir", self.dir], env=env, check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def up(self):
        self.port_base = self.port_base or free_port_base(self.nodes)
        res = self.run("up", "--nodes", str(self.nodes), "--port-base", str(self.port_base),
                       check=False)
        if res.returncode != 0:
            raise RuntimeError("scripts/lab up failed:\n" + res.stdout + self.logs())
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

    def sip_server(self, node=0):
        return ("127.0.0.1", self.sip_ports[node])

    def kamcmd(self, *args, node=0, check=True):
        res = subprocess.run(["kamcmd", "-s", self.ctl[node]] + [str(a) for a in args],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and res.returncode != 0:
            raise RuntimeError("kamcmd %s failed: %s" % (" ".join(map(str, args)), res.stdout))
        return res.stdout

    def sql(self, query, db=True):
        """Runs SQL as the lab's MariaDB root; returns the rows as lists of strings."""
        cmd = ["mariadb", "--no-defaults", "-S", self.env["PCHAT_MYSQL_SOCKET"], "-u", "root",
               "--batch", "--skip-column-names"]
        if db:
            cmd.append(self.env["PCHAT_MYSQL_DB"])
        res = subprocess.run(cmd + ["-e", query], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, check=True)
        return [line.split("\t") for line in res.stdout.splitlines()]

    def new_room(self, label="test", privacy="open"):
        """A fresh room in the lab's category, so a test's counts and orders start from nothing;
        returns its ma-chan:// URI."""
        guid = str(uuid.uuid4())
        self.sql("INSERT INTO pchat_room (guid, name, topic, category_id, privacy) VALUES "
                 "('%s', '%s %s', 'testing', 1, '%s')" % (guid, label, guid[:8], privacy))
        return "ma-chan://%s/%s" % (self.env["PCHAT_DOMAIN"], guid)

    def stored(self, room):
        """The posts stored for a room: [seq, author, content] rows in seq order."""
        guid = room.rsplit("/", 1)[1]
        return self.sql("SELECT m.seq, m.author, m.content FROM pchat_message m JOIN pchat_room r "
                        "ON r.id = m.room_id WHERE r.guid = '%s' ORDER BY m.seq" % guid)

    def log(self, node=0):
        with open(os.path.join(self.dir, "node%d" % (node + 1), "kamailio.log"),
                  errors="replace") as f:
            return f.read()

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


def start_lab(request, **kw):
    """A lab for one pytest module, stopped when the module is done; its logs are kept in
    build/test-logs/<module>/."""
    lab = Lab(name=request.module.__name__.split(".")[-1][:12], **kw).up()

    def finish():
        lab.down()
        lab.keep_logs(os.path.join(TOP, "build", "test-logs", request.module.__name__))
        lab.remove()
    request.addfinalizer(finish)
    return lab
