#!/usr/bin/python3
"""The benchmark suite (make bench, make bench QUICK=1): brings up a bench lab, runs every
scenario through the C load generator (tests/bench/load/pchat-load), prints one table, writes
tests/bench/results/<date>.json and a plot of delivery latency against offered load, and stops
the lab (its data folder, with the big seeds, is kept for the next run).

Every figure that matters is measured in the same run as its anchor: stateless OPTIONS answered by
the same Kamailio (the engine's ceiling here) and Kamailio's own imc conferencing module fanning
out to rooms of the same size. A rate figure is the last step of an increasing offered load that
lost nothing, duplicated nothing and kept p99 under its bound; full runs repeat each figure three
times and report the median and the spread.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, HERE)
import bench_lab  # noqa: E402
from lab import read_env  # noqa: E402

LOAD = os.path.join(HERE, "load", "pchat-load")
RESULTS = os.path.join(HERE, "results")
SHM_MB = 2048
PKG_MB = 32
CHILDREN = 4
MAX_SESSIONS = 90000
# one generator socket speaks for every user, as fast as it can
LIFTED_LIMITS = "PCHAT_MAX_SESSIONS_PER_SOURCE=0 PCHAT_USER_REQUEST_RATE=0"
# reconnect: the logins a pool's clients have in progress at once (clients that found their
# node dead try again after a random pause, so they do not all arrive in the same instant)
RECONNECT_WINDOW = 300
# reconnect: the shared memory of the pool's front end (tm keeps what it relays for wt_timer)
FRONTEND_SHM_MB = 1024


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def geometric(start, stop, factor):
    rates, r = [], float(start)
    while r <= stop:
        rates.append(round(r))
        r *= factor
    return rates


def rpc_field(text, name):
    """An integer field of kamcmd's output ("name: 42" on a line of its own)."""
    return int(re.search(r"^\s*%s:\s*(\d+)" % re.escape(name), text, re.M).group(1))


def free_port(start):
    for port in range(start, start + 500):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free UDP port near %d" % start)


def cpu_by_part(lab_dir, env, generator_pid):
    """CPU seconds (user and system) each part of a pool lab has used so far, by process id:
    {pid: (part, seconds)} for the front end, the chat nodes, MariaDB, Redis and the generator."""
    tick = float(os.sysconf("SC_CLK_TCK"))
    redis = "127.0.0.1:%s" % env["PCHAT_REDIS_PORT"]
    used = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(pid) == generator_pid:
            part = "generator"
        elif cmd.startswith("kamailio") and lab_dir + "/frontend/" in cmd:
            part = "front end"
        elif cmd.startswith("kamailio") and lab_dir + "/node" in cmd:
            part = "chat nodes"
        elif cmd.startswith("mariadbd") and lab_dir + "/" in cmd:
            part = "MariaDB"
        elif cmd.startswith("redis-server") and redis in cmd:
            part = "Redis"
        else:
            continue
        used[pid] = (part, (int(fields[11]) + int(fields[12])) / tick)
    return used


def cpu_between(before, after):
    """CPU seconds by part between two cpu_by_part readings (processes alive at the second)."""
    out = {}
    for pid, (part, seconds) in after.items():
        out[part] = out.get(part, 0.0) + seconds - before.get(pid, (part, 0.0))[1]
    return {part: round(s, 2) for part, s in sorted(out.items())}


class Bench:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.dir = os.path.abspath(args.lab_dir)
        self.env = {}
        self.results = {}
        self.failed = {}
        self.settings = {}
        self.plot = {}

    # ---- the lab

    def lab(self, *cmd, lab_dir=None, limits=LIFTED_LIMITS, **env_extra):
        """scripts/lab CMD on the bench lab (or the one in lab_dir), with the bench's memory and
        workers and the limits given as cfg defines."""
        env = dict(os.environ, PCHAT_LAB_SHM_MB=str(SHM_MB), PCHAT_LAB_PKG_MB=str(PKG_MB),
                   PCHAT_LAB_DEFINES="PCHAT_MAX_SESSIONS=%d PCHAT_CHILDREN=%d %s"
                   % (MAX_SESSIONS, CHILDREN, limits), **env_extra)
        res = subprocess.run([os.path.join(TOP, "scripts", "lab")] + list(cmd) +
                             ["--dir", lab_dir or self.dir], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        if res.returncode != 0:
            raise RuntimeError("scripts/lab %s failed:\n%s" % (" ".join(cmd), res.stdout))
        return res.stdout

    def up(self, **env_extra):
        say("bench lab in %s (port base %d)" % (self.dir, self.args.port_base))
        self.lab("up", "--nodes", "1", "--port-base", str(self.args.port_base), **env_extra)
        self.env = read_env(os.path.join(self.dir, "lab.env"))
        self.server = "127.0.0.1:%s" % self.env["PCHAT_SIP_PORTS"].split()[0]
        if not self.settings:
            self.settings = self.server_settings()

    def server_settings(self):
        """The MariaDB and Redis settings the figures depend on, as the servers report them."""
        rows = self.sql("SHOW GLOBAL VARIABLES WHERE Variable_name IN ('version', "
                        "'innodb_buffer_pool_size', 'innodb_flush_log_at_trx_commit', "
                        "'innodb_log_file_size', 'sync_binlog', 'log_bin')")
        mariadb = dict(line.split("\t", 1) for line in rows.splitlines())
        redis = {}
        for key in ("save", "appendonly", "maxmemory"):
            out = subprocess.run(["redis-cli", "-h", self.env["PCHAT_REDIS_HOST"], "-p",
                                  self.env["PCHAT_REDIS_PORT"], "config", "get", key],
                                 stdout=subprocess.PIPE, text=True).stdout.splitlines()
            redis[key] = out[1] if len(out) > 1 else None
        return {"mariadb": mariadb, "redis": redis}

    def down(self):
        bench_lab.stop_imc(self.dir)
        self.lab("down")

    def sql(self, query):
        return bench_lab.sql(self.env, query)

    def kamcmd(self, *args):
        return subprocess.run(["kamcmd", "-s", self.env["PCHAT_CTL"].split()[0]] + list(args),
                              stdout=subprocess.PIPE, text=True, check=True).stdout

    # ---- the generator

    def load(self, *args, timeout=900):
        cmd = [LOAD, "--server", self.server] + [str(a) for a in args]
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=timeout)
        if res.returncode != 0 or not res.stdout.strip():
            raise RuntimeError("pchat-load failed (%s):\n%s" % (" ".join(cmd), res.stderr))
        return json.loads(res.stdout)

    def rooms(self, label, n):
        """n fresh open rooms in the lab's category; the file of their GUIDs."""
        tag = "%s %d" % (label, int(time.time() * 1000) % 10**9)
        self.sql("INSERT INTO pchat_room (guid, name, category_id, privacy) SELECT UUID(), "
                 "CONCAT('%s ', seq), 1, 'open' FROM seq_1_to_%d" % (tag, n))
        guids = self.sql("SELECT guid FROM pchat_room WHERE name LIKE '%s %%' ORDER BY id" % tag)
        path = os.path.join(self.dir, "%s.guids" % label)
        with open(path, "w") as f:
            f.write(guids + "\n")
        return path

    def repeat(self, name, run):
        """Runs a measurement once (quick) or three times; keeps every run."""
        runs = []
        for i in range(1 if self.quick else 3):
            say("%s%s" % (name, "" if self.quick else " (run %d of 3)" % (i + 1)))
            runs.append(run())
        return runs

    # ---- scenarios

    def sustained(self, out, key="rate"):
        """The last passed step's figure, and the curve of every step."""
        passed = [s for s in out["steps"] if s["passed"]]
        return (passed[-1][key] if passed else 0.0), out["steps"]

    def ceiling(self):
        rates = (list(range(10000, 80001, 10000)) if self.quick
                 else geometric(20000, 150000, 1.15))
        runs = self.repeat("ceiling: stateless OPTIONS", lambda: self.sustained(self.load(
            "--mode", "options", "--rates", ",".join(map(str, rates)),
            "--step", 3 if self.quick else 5, "--drain", 1)))
        self.record("ceiling", "OPTIONS answered/s", [r[0] for r in runs], None, "the engine")

    def imc(self):
        rooms = 4 if self.quick else 10
        port = free_port(self.args.port_base + 150)
        imc_port = free_port(self.args.port_base + 103)
        bench_lab.start_imc(self.dir, imc_port, CHILDREN, SHM_MB // 2,
                            "sip:127.0.0.1:%d" % port)
        args = ["--mode", "imc", "--rooms", rooms, "--members", 150, "--listen-port", port,
                "--domain", "bench.test", "--rates", ",".join(map(str, geometric(20, 800, 1.25))),
                "--step", 3 if self.quick else 5, "--drain", 3]
        saved, self.server = self.server, "127.0.0.1:%d" % imc_port
        try:
            runs = self.repeat("imc anchor: rooms of 150",
                               lambda: self.sustained(self.load(*args)))
        finally:
            self.server = saved
            bench_lab.stop_imc(self.dir)
        misordered = [sum(s["misordered"] for s in r[1]) for r in runs]
        self.record("imc", "MESSAGE deliveries/s, rooms of 150", [r[0] for r in runs], None,
                    "peer in the same engine", extra={
                        "misordered": misordered,
                        "note": "imc keeps no room order: members may get two posts in "
                                "different orders (counted in misordered, not failed)"})
        self.plot["imc"] = runs[0][1]

    def fanout150(self):
        rooms = 4 if self.quick else 10
        guids = self.rooms("fanout150", rooms)
        rates = geometric(20, 800, 1.25)
        runs = self.repeat("fanout-150: rooms of 150", lambda: self.sustained(self.load(
            "--mode", "fanout", "--rooms", rooms, "--members", 150, "--guids", guids,
            "--rates", ",".join(map(str, rates)), "--step", 3 if self.quick else 5,
            "--drain", 3)))
        self.record("fanout-150", "INFO deliveries/s, rooms of 150, posts stored",
                    [r[0] for r in runs], None, ">= 1.2 x imc (~0.8 x ceiling)")
        self.plot["fanout-150"] = runs[0][1]

    def fanout16k(self):
        members = 2000 if self.quick else 16000
        posts = 3 if self.quick else 10
        guids = self.rooms("fanout16k", 1)
        spacing = 3.0  # s between posts: each fan-out is over before the next post
        out = self.load("--mode", "fanout", "--rooms", 1, "--members", members, "--guids",
                        guids, "--rates", "%.4f" % (1 / spacing),
                        "--step", (posts + 0.9) * spacing, "--drain", 10, "--max-p99", 10000,
                        "--login-rate", 1000, timeout=1800)
        last = out.get("post_last_ms", [])
        step = out["steps"][0]
        ok = step["deliveries"] == step["expected"] and step["duplicates"] == 0
        self.record("fanout-16k", "time to the last delivery of a post to %d sessions (ms): "
                    "median of %d posts" % (members, len(last)),
                    [statistics.median(last)] if last and ok else [float("nan")], 2000,
                    "<= 2 s", extra={"max_ms": max(last) if last else None,
                                     "deliveries": step["deliveries"],
                                     "expected": step["expected"]}, lower_is_better=True)

    def post_rate(self):
        rooms = 200 if self.quick else 500
        guids = self.rooms("postrate", rooms)
        rates = geometric(500, 20000, 1.3)
        runs = self.repeat("post-rate: rooms of 2", lambda: self.sustained(self.load(
            "--mode", "fanout", "--rooms", rooms, "--members", 2, "--guids", guids, "--rates",
            ",".join(map(str, rates)), "--step", 3 if self.quick else 5, "--drain", 3),
            key="offered"))
        self.record("post-rate", "stored, acknowledged posts/s (durable commits)",
                    [r[0] for r in runs], 5000, ">= 5,000/s")

    def login(self):
        guids = self.rooms("login", 3)
        rates = geometric(100, 3000, 1.3)
        runs = self.repeat("login storm", lambda: self.sustained(self.load(
            "--mode", "login", "--guids", guids, "--rates", ",".join(map(str, rates)),
            "--step", 3 if self.quick else 5, "--max-p99", 2000, timeout=1800)))
        self.record("login-storm", "full logins/s (INVITE, ACK, getserverinfo, bjoin of 3, "
                    "3 x bccontext), p99 < 2 s", [r[0] for r in runs], 1000, ">= 1,000/s")

    def reconnect(self):
        """A node of a pool of three dies and its users log in again through the front end:
        N sessions log in fully on node 1 (getserverinfo, bjoin of 3 rooms with 25 posts of
        history each, a backchat of each), node 1 is killed -9, and the same users log in again
        through the front end, RECONNECT_WINDOW logins in progress at once: seconds until all N
        are back in their rooms, over one MariaDB and over a 3-node Galera cluster. The nodes
        keep the request rate limit; only the per-address session limit is lifted, because the
        first logins come straight from the generator's one address (through the front end
        nothing counts per address: the nodes trust it)."""
        n = 2000 if self.quick else 20000
        for db, offset, name in (("single", 600, "reconnect"),
                                 ("galera", 1200, "reconnect-galera")):
            try:
                out, kill_to_go = self.reconnect_run(db, n, self.args.port_base + offset)
            except (RuntimeError, subprocess.SubprocessError, ValueError, KeyError) as e:
                say("%s FAILED: %s" % (name, e))
                self.failed[name] = str(e)
                continue
            step = out["steps"][0]
            back = out["back"]
            self.record(name, "seconds until %d sessions of a killed node are back in their "
                        "rooms through the front end (3 nodes, %s; one run)%s"
                        % (n, "one MariaDB" if db == "single" else "Galera, 3 servers",
                           "" if back == n else ": only %d came back" % back),
                        [step["seconds"]], n / 1000 if db == "single" else None,
                        "<= %g s (>= 1,000 logins/s)" % (n / 1000) if db == "single"
                        else "beside reconnect",
                        extra={"logins_per_s": back / step["seconds"],
                               "back": back, "sessions": n,
                               "attempts_failed": step["failed"],
                               "refused_503": out["refused_503"],
                               "refused_other": out["refused_other"],
                               "retransmitted": out["retransmitted"],
                               "server_retransmissions": out["server_retransmissions"],
                               "cpu_s": out["cpu_s"],
                               "login_ms": step["latency_ms"],
                               "first_login_s": out["login_seconds"],
                               "kill_to_go_s": kill_to_go, "window": RECONNECT_WINDOW},
                        lower_is_better=True)
            if back < n:
                self.results[name]["met"] = False

    def reconnect_run(self, db, n, port_base):
        """One reconnect on a pool lab of its own: the generator's figures, and the seconds
        between the kill and the generator's go."""
        lab_dir = "%s-pool-%s" % (self.dir, db)
        limits = "PCHAT_MAX_SESSIONS_PER_SOURCE=0"
        say("reconnect (%s): pool lab in %s (port base %d)" % (db, lab_dir, port_base))
        try:
            # inside: what did start must not outlive a failed start
            self.lab("up", "--nodes", "3", "--db", db, "--port-base", str(port_base),
                     lab_dir=lab_dir, limits=limits,
                     PCHAT_LAB_FRONTEND_SHM_MB=str(FRONTEND_SHM_MB))
            env = read_env(os.path.join(lab_dir, "lab.env"))
            guids = self.history_rooms(env, lab_dir, "reconnect", 3, 25)
            proc = subprocess.Popen([LOAD, "--mode", "reconnect", "--server", "127.0.0.1:%s" %
                                     env["PCHAT_SIP_PORTS"].split()[0], "--again",
                                     "127.0.0.1:%s" % env["PCHAT_FRONTEND_PORT"], "--guids",
                                     guids, "--sessions", str(n), "--window",
                                     str(RECONNECT_WINDOW), "--duration", "900"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            for line in proc.stderr:
                say("reconnect (%s): %s" % (db, line.strip()))
                if "ready for the kill" in line:
                    break
            else:
                raise RuntimeError("pchat-load ended before the kill: %s" % proc.communicate())
            t0 = time.time()
            os.killpg(int(env["PCHAT_NODE_PGIDS"].split()[0]), signal.SIGKILL)
            cpu_before = cpu_by_part(lab_dir, env, proc.pid)
            proc.stdin.write("go\n")
            proc.stdin.flush()
            kill_to_go = time.time() - t0
            # the CPU time of the reconnect, read before the generator exits (its sessions end)
            err = ""
            for line in proc.stderr:
                err = line
                if " back in " in line:
                    break
            cpu = cpu_between(cpu_before, cpu_by_part(lab_dir, env, proc.pid))
            out, rest = proc.communicate(timeout=1800)
            err = (rest.strip().splitlines() or [err.strip()])[-1]
            say("reconnect (%s): %s; CPU seconds by part: %s" % (db, err.strip(), cpu))
            result = json.loads(out)
            result["cpu_s"] = cpu
            return result, kill_to_go
        finally:
            self.lab("down", lab_dir=lab_dir, limits=limits)

    def history_rooms(self, env, lab_dir, label, n, posts):
        """n fresh open rooms with posts stored posts each, on the lab of env; the file of
        their GUIDs."""
        tag = "%s %d" % (label, int(time.time() * 1000) % 10**9)
        bench_lab.sql(env, "INSERT INTO pchat_room (guid, name, category_id, privacy) SELECT "
                      "UUID(), CONCAT('%s ', seq), 1, 'open' FROM seq_1_to_%d;"
                      "INSERT INTO pchat_message (room_id, seq, author, ts, content) SELECT r.id, "
                      "s.seq, 'sip:bench@bench.test', UTC_TIMESTAMP(6), CONCAT('<chat>history ', "
                      "s.seq, '</chat>') FROM pchat_room r JOIN seq_1_to_%d s WHERE r.name LIKE "
                      "'%s %%';INSERT INTO pchat_room_sequence (room_id, last_seq) SELECT id, %d "
                      "FROM pchat_room WHERE name LIKE '%s %%'" % (tag, n, posts, tag, posts, tag))
        path = os.path.join(lab_dir, "%s.guids" % label)
        with open(path, "w") as f:
            f.write(bench_lab.sql(env, "SELECT guid FROM pchat_room WHERE name LIKE '%s %%' "
                                       "ORDER BY id" % tag) + "\n")
        return path

    def sessions(self):
        n = 10000 if self.quick else 80000
        before = self.memory(sessions=0)
        proc = subprocess.Popen([LOAD, "--server", self.server, "--mode", "sessions",
                                 "--sessions", str(n), "--login-rate", "1000", "--hold", "15"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        established, during = 0, None
        for line in proc.stderr:
            if line.startswith("established "):
                established = int(line.split()[1])
                during = self.memory(sessions=established)
                break
        out = json.loads(proc.communicate(timeout=600)[0])
        each = {}
        if during and during["sessions"] > before["sessions"]:
            count = during["sessions"] - before["sessions"]
            # the slot each session has in the table max_sessions reserves at startup, and
            # what it allocates beyond it (strings, queued INFOs)
            slot = during["slot"]
            # the node's resident memory (PSS: shared pages split between its processes)
            # over its sessions: an upper bound, it holds the shm that earlier scenarios
            # touched too (a difference is no use once the allocator reuses freed memory)
            each = {"shm_bytes_per_session": slot + (during["shm"] - before["shm"]) / count,
                    "shm_slot_bytes": slot, "node_pss_bytes": during["pss"],
                    "pss_bytes_per_session_at_most": during["pss"] / during["sessions"]}
        self.record("sessions", "concurrent sessions on one node over UDP%s" % (
            " (quick: %d)" % n if self.quick else ""), [established], None,
            "80,000 at <= 4 KiB shm each",
            extra=dict(each, login_failed=out["login_failed"],
                       tcp="not measured: the generator speaks UDP only"))
        if not self.quick:
            self.results["sessions"]["met"] = (established >= 80000 and
                                               each.get("shm_bytes_per_session", 1e9) <= 4096)

    def history(self):
        messages = 100000 if self.quick else 10000000
        seed = bench_lab.seed_history(self.env, messages=messages,
                                      rooms=100 if self.quick else 1000)
        path = os.path.join(self.dir, "history.queries")
        with open(path, "w") as f:
            for guid in seed["guids"]:
                f.write("bccontext\t<chanib uri=\"ma-chan://pchat.test/%s\"/><bcq><last "
                        "cnt=\"25\"/></bcq>\n" % guid)
        runs = self.repeat("history: bccontext last 25 of %d messages" % messages,
                           lambda: self.load("--mode", "query", "--sessions", 16, "--queries",
                                             path, "--duration", 10 if self.quick else 30,
                                             "--expect", "<msg ", "--expect-count", 25))
        self.record_query("history", "bccontext last 25, %d stored messages, 16 concurrent: "
                          "p99 ms" % messages, runs, 5, "p99 <= 5 ms")

    def search(self):
        rooms = 10000 if self.quick else 100000
        bench_lab.seed_rooms(self.env, rooms)
        path = os.path.join(self.dir, "search.queries")
        words = ["", "re", "review", "red team", "blue design", "golden", "zzzq", "south hub 7",
                 "project", "alpha"]
        with open(path, "w") as f:
            for w in words:
                f.write("chansrch\t<qib qtype=\"BYNAME\" criteria=\"%s\" extended=\"false\"/>\n"
                        % w)
        runs = self.repeat("search: chansrch by name, %d rooms" % rooms,
                           lambda: self.load("--mode", "query", "--sessions", 16, "--queries",
                                             path, "--duration", 10 if self.quick else 30))
        self.record_query("search", "chansrch by name, %d rooms, 16 concurrent: p99 ms" % rooms,
                          runs, 20, "p99 <= 20 ms")

    def cost(self):
        """Instructions per delivery, counted by callgrind in every process of the node while
        a small fan-out runs (rooms of 150, posts stored), less an idle window as long (timers).
        Stable where timing is not: the figure to track run to run."""
        folder = os.path.join(self.dir, "callgrind")
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        self.lab("down")
        say("cost: the node restarts under callgrind")
        self.up(PCHAT_LAB_WRAPPER="valgrind --tool=callgrind --trace-children=yes "
                "--callgrind-out-file=%s/callgrind.%%p" % folder)
        try:
            pids = self.node_pids()
            window = 6.0
            idle = self.instructions(folder, pids, lambda: time.sleep(window))
            guids = self.rooms("cost", 1)
            proc = subprocess.Popen([LOAD, "--server", self.server, "--mode", "fanout",
                                     "--rooms", "1", "--members", "150", "--guids", guids,
                                     "--rates", "1", "--step", "%.1f" % (window - 0.5),
                                     "--drain", "30", "--max-p99", "60000", "--login-rate",
                                     "20", "--pause", "3"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for line in proc.stderr:
                if "ready for the steps" in line:
                    break
            started = time.time()
            busy = self.instructions(folder, pids, lambda: next(
                line for line in proc.stderr if "steps done" in line))
            took = time.time() - started
            out = json.loads(proc.communicate(timeout=120)[0])
        finally:
            self.lab("down")
            self.up()
        step = out["steps"][0]
        per = (busy - idle * took / window) / max(step["deliveries"], 1)
        ok = step["deliveries"] == step["expected"] > 0
        self.record("cost", "Kamailio instructions per fan-out delivery (callgrind, all "
                    "processes, rooms of 150, posts stored)", [per] if ok else [], None,
                    "tracked run to run", extra={"deliveries": step["deliveries"],
                                                 "posts": step["sent"],
                                                 "idle_instructions_per_s": idle / window})

    def node_pids(self):
        return [str(pid) for pid in
                bench_lab.group_pids(int(self.env["PCHAT_NODE_PGIDS"].split()[0]))]

    def instructions(self, folder, pids, during):
        """Instructions the processes execute while during() runs (callgrind_control zeroes
        their counters, then dumps them)."""
        for pid in pids:
            subprocess.run(["callgrind_control", "-z", pid], stdout=subprocess.DEVNULL)
        during()
        before = set(os.listdir(folder))
        for pid in pids:
            subprocess.run(["callgrind_control", "-d", pid], stdout=subprocess.DEVNULL)
        total = 0
        for name in set(os.listdir(folder)) - before:
            with open(os.path.join(folder, name)) as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        total += int(line.split()[1])
                        break
        return total

    # ---- figures

    def memory(self, sessions):
        """Once the node holds this many sessions and no transaction is open (up to 30 s):
        the sessions it holds, the shared memory in use, the proportional set size of its
        processes (shared pages split between them) and the shm a session slot reserves, in
        bytes."""
        deadline = time.time() + 30
        while True:
            status = self.kamcmd("pchat.status")
            held = rpc_field(status, "sessions")
            open_tx = rpc_field(self.kamcmd("tm.stats"), "current")
            if (held == sessions and open_tx == 0) or time.time() > deadline:
                break
            time.sleep(0.5)
        used = rpc_field(self.kamcmd("core.shmmem"), "used")
        pss = 0
        for pid in self.node_pids():
            try:
                with open("/proc/%s/smaps_rollup" % pid) as f:
                    pss += sum(int(line.split()[1]) * 1024 for line in f
                               if line.startswith("Pss:"))
            except OSError:
                continue
        return {"sessions": held, "shm": used, "pss": pss,
                "slot": rpc_field(status, "session_slot_bytes")}

    def record(self, name, what, values, goal, goal_text, extra=None, lower_is_better=False):
        values = [v for v in values if v == v]  # no NaN
        fig = statistics.median(values) if values else None
        met = None
        if goal is not None and fig is not None:
            met = fig <= goal if lower_is_better else fig >= goal
        self.results[name] = {"figure": what, "median": fig, "runs": values,
                              "spread": [min(values), max(values)] if values else None,
                              "goal": goal_text, "met": met, **(extra or {})}

    def record_query(self, name, what, runs, goal_ms, goal_text):
        p99 = [r["steps"][0]["latency_ms"]["p99"] for r in runs]
        errors = sum(r["query_errors"] for r in runs)
        rate = statistics.median(r["steps"][0]["rate"] for r in runs)
        self.record(name, what, p99 if errors == 0 else [], goal_ms, goal_text,
                    extra={"requests_per_s": rate, "errors": errors,
                           "p50_ms": statistics.median(r["steps"][0]["latency_ms"]["p50"]
                                                       for r in runs)},
                    lower_is_better=True)

    def ratios(self):
        r = self.results
        fan, imc, ceil = (r.get(k, {}).get("median") for k in ("fanout-150", "imc", "ceiling"))
        if fan and imc:
            r["fanout-150"]["x_imc"] = fan / imc
            r["fanout-150"]["met"] = fan >= 1.2 * imc
        if fan and ceil:
            r["fanout-150"]["x_ceiling"] = fan / ceil
        if imc and ceil:
            r["imc"]["x_ceiling"] = imc / ceil

    # ---- compliance

    def compliance_set(self, *settings):
        self.kamcmd("pchat.compliance.set", *settings)

    def exported(self):
        out = self.kamcmd("stats.get_statistics", "pchat:")
        return int(re.search(r"^pchat:compliance_exported = (\d+)", out, re.M).group(1))

    def worker_peak_rss(self):
        """Peak resident memory of the node's compliance worker (kB), from /proc."""
        m = re.search(r"PID: (\d+)\s+DSC: pchat compliance worker", self.kamcmd("core.psx"))
        with open("/proc/%s/status" % m.group(1)) as f:
            return int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1))

    def fixed_rate_posts(self, guids, rooms, rate, seconds):
        """Delivery latency (p50, p99 ms) of posts offered at one rate, rooms of 2."""
        step = self.load("--mode", "fanout", "--rooms", rooms, "--members", 2, "--guids",
                         guids, "--rates", rate, "--step", seconds, "--drain", 3,
                         "--max-p99", 60000)["steps"][0]
        return step["latency_ms"]["p50"], step["latency_ms"]["p99"], step["passed"]

    def compliance(self):
        """What recording costs a post, how fast a backlog of a million events exports, in what
        memory, and whether posting slows while it exports."""
        rooms = 200 if self.quick else 500
        guids = self.rooms("compliance", rooms)
        # steps of 8 %, from well below the knee: the cost of one statement a post is smaller
        # than the post-rate ladder's 30 % steps could show
        rates = geometric(1500, 8000, 1.08)
        out = os.path.join(self.dir, "compliance-out")
        os.makedirs(out, exist_ok=True)
        fixed_rate, fixed_s = 1000, 5 if self.quick else 10
        figures = {}
        try:
            for mode in ("off", "on"):
                # runs only when asked: one due by the interval would export during the
                # measurements of the chat
                self.compliance_set("adapter=" + ("jsonl" if mode == "on" else "none"),
                                    "output_dir=" + out, "run_interval=2592000")
                # each measurement from a settled server: a ladder ends in overload, and the
                # server catches up for seconds after it
                time.sleep(10)
                figures["latency_" + mode] = self.fixed_rate_posts(guids, rooms, fixed_rate,
                                                                   fixed_s)
                time.sleep(10)
                say("compliance %s: post rate, rooms of 2" % mode)
                figures["rate_" + mode] = self.sustained(self.load(
                    "--mode", "fanout", "--rooms", rooms, "--members", 2, "--guids", guids,
                    "--rates", ",".join(map(str, rates)), "--step", 3 if self.quick else 5,
                    "--drain", 3), key="offered")[0]
            # a backlog of a million events, exported while posts go on
            events = 100_000 if self.quick else 1_000_000
            self.sql("DELETE FROM pchat_compliance_event WHERE batch_id IS NULL")
            self.sql("INSERT INTO pchat_compliance_event (kind, ts, room_id, room_uri, room_name, "
                     "room_logged, user, msg_id, content) SELECT 'CHAT', UTC_TIMESTAMP(6), "
                     "1 + seq %% 1000, CONCAT('ma-chan://bench.test/room-', seq %% 1000), "
                     "CONCAT('room ', seq %% 1000), 1, CONCAT('sip:user', seq %% 5000, "
                     "'@bench.test'), seq, CONCAT('a post of about sixty bytes, number ', seq) "
                     "FROM seq_1_to_%d" % events)
            rss_before = self.worker_peak_rss()
            exported_before = self.exported()
            time.sleep(10)
            t0 = time.time()
            self.kamcmd("pchat.compliance.run")
            figures["latency_exporting"] = self.fixed_rate_posts(guids, rooms, fixed_rate,
                                                                 fixed_s)
            # the run ends when the outbox is empty, the backlog and the posts made during it
            # exported; posts made after its last batch wait for the next run
            while self.exported() - exported_before < events and time.time() - t0 < 1800:
                time.sleep(0.5)
            elapsed = time.time() - t0
            figures["exported"] = self.exported() - exported_before
            if figures["exported"] < events:
                raise RuntimeError("the export of %d events did not finish in 1800 s" % events)
            figures["export_s"] = elapsed
            figures["worker_rss_kb"] = (rss_before, self.worker_peak_rss())
            files = [f for f in os.listdir(out) if not f.startswith(".")]
            figures["export_bytes"] = sum(os.path.getsize(os.path.join(out, f)) for f in files)
        finally:
            self.compliance_set("adapter=none", "run_interval=900")
            shutil.rmtree(out, ignore_errors=True)
        say("compliance: %s" % figures)
        self.record("post-rate-compliance", "stored, acknowledged posts/s with compliance "
                    "recording (off: %.0f/s)" % figures["rate_off"], [figures["rate_on"]],
                    0.9 * figures["rate_off"], ">= 90% of off",
                    extra={"off": figures["rate_off"],
                           # p50, p99 and whether the step lost nothing and kept its bound
                           "latency_ms_at_%d_per_s" % fixed_rate: {
                               "off": figures["latency_off"],
                               "on": figures["latency_on"],
                               "while_exporting": figures["latency_exporting"]}})
        self.record("compliance-export", "events/s exported (a backlog of %d events, JSON "
                    "Lines; posts at %d/s during its first %d s)" % (events, fixed_rate, fixed_s),
                    [figures["exported"] / figures["export_s"]], 20000, ">= 20,000/s",
                    extra={"seconds": figures["export_s"], "events": figures["exported"],
                           "bytes": figures["export_bytes"],
                           "worker_peak_rss_kb_before_after": figures["worker_rss_kb"]})

    def file_token(self, room_guid, upload, file_id=None):
        """A token for the bench user, written to the store as getfutok/getfdtok would (the
        bench measures the file path, not the XCCOS round trip)."""
        tok = "%08x-0000-4000-8000-%012x" % (int(time.time()) & 0xffffffff,
                                             int.from_bytes(os.urandom(6), "big"))
        self.sql("INSERT INTO pchat_file_token (token_hash, user, room_id, direction, "
                 "requested_name, file_id, created, expires) SELECT UNHEX(SHA2('%s', 256)), "
                 "'sip:bench@bench.test', id, '%s', 'bench.bin', %s, UTC_TIMESTAMP(6), "
                 "UTC_TIMESTAMP(6) + INTERVAL 1 HOUR FROM pchat_room WHERE guid = '%s'"
                 % (tok, "upload" if upload else "download", file_id or "NULL", room_guid))
        return tok

    def https(self):
        import http.client
        import ssl
        ctx = ssl.create_default_context(cafile=self.env["PCHAT_TLS_CA"])
        return http.client.HTTPSConnection(
            "127.0.0.1", int(self.env["PCHAT_HTTPS_PORTS"].split()[0]), context=ctx, timeout=300)

    def soap(self, conn, op, **children):
        inner = "".join("<%s>%s</%s>" % (k, v, k) for k, v in children.items())
        body = ('<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                '<soap:Body><%s xmlns="http://www.microsoft.com">%s</%s></soap:Body>'
                '</soap:Envelope>' % (op, inner, op))
        conn.request("POST", "/PersistentChat/MGCWebService.asmx", body,
                     {"Content-Type": "text/xml; charset=utf-8"})
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError("%s answered %d: %s" % (op, resp.status, data[:300]))
        return re.search(rb"<%sResult>(.*)</%sResult>" % (op.encode(), op.encode()), data,
                         re.S).group(1)

    def soap_upload(self, guid, data):
        """Seconds to upload data through Lync's web service, one connection, 1 MB chunks;
        the stored name."""
        import base64
        conn = self.https()
        tok = self.file_token(guid, True)
        t0 = time.time()
        name = self.soap(conn, "RequestUniqueFilenameWithExtension", token=tok, channelId=guid,
                         extension="bin").decode()
        chunk = int(self.soap(conn, "GetMaxRequestContentInKB")) * 1024
        for off in range(0, len(data), chunk):
            self.soap(conn, "AppendChunk", token=tok, channelId=guid, uniqueFilename=name,
                      fileChunk=base64.b64encode(data[off:off + chunk]).decode(), offset=off,
                      fileLength=len(data))
        conn.close()
        return time.time() - t0, name

    def soap_download(self, guid, name, size):
        import base64
        fid = self.sql("SELECT f.id FROM pchat_file f WHERE f.name = '%s'" % name).strip()
        conn = self.https()
        tok = self.file_token(guid, False, fid)
        t0 = time.time()
        got = 0
        while got < size:
            got += len(base64.b64decode(self.soap(conn, "DownloadChunk", token=tok,
                                                  channelId=guid, reposFileName=name,
                                                  offset=got, bufferSize=1 << 20)))
        conn.close()
        return time.time() - t0

    def curl(self, *args):
        res = subprocess.run(["curl", "-sS", "--fail", "--cacert", self.env["PCHAT_TLS_CA"],
                              "-o", "/dev/null", "-w", "%{time_total}"] + list(args),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if res.returncode != 0:
            raise RuntimeError("curl %s: %s" % (" ".join(args[-1:]), res.stderr))
        return float(res.stdout)

    def files(self):
        """Upload and download throughput over HTTPS (Lync's chunks and plain HTTP), and chat
        latency while a large transfer runs."""
        import threading
        size = (20 if self.quick else 100) * 1024 * 1024
        self.kamcmd("pchat.config.set", "max_file_size", str(size // 1024 + 1))
        guid = self.sql("SELECT guid FROM pchat_room WHERE name LIKE 'files %%' LIMIT 1").strip()
        if not guid:
            guid = open(self.rooms("files", 1)).read().split()[0]
        data = os.urandom(size)
        src = os.path.join(self.dir, "bench-file.bin")
        with open(src, "wb") as f:
            f.write(data)
        base = "https://127.0.0.1:%s" % self.env["PCHAT_HTTPS_PORTS"].split()[0]
        mb = size / 1048576
        figures = {}
        try:
            up_s, name = self.soap_upload(guid, data)
            figures["soap_upload_mb_s"] = mb / up_s
            figures["soap_download_mb_s"] = mb / self.soap_download(guid, name, size)
            tok = self.file_token(guid, True)
            figures["plain_upload_mb_s"] = mb / self.curl(
                "-X", "PUT", "--data-binary", "@" + src, "-H", "Authorization: Bearer " + tok,
                base + "/PersistentChat/files/upload")
            fid = self.sql("SELECT id FROM pchat_file WHERE name = '%s'" % name).strip()
            dtok = self.file_token(guid, False, fid)
            path = "%s/PersistentChat/files/%s/%s" % (base, guid, name)
            figures["plain_download_mb_s"] = mb / self.curl(
                "-H", "Authorization: Bearer " + dtok, path)
            rooms = 100
            guids = self.rooms("files-chat", rooms)
            figures["latency_idle"] = self.fixed_rate_posts(guids, rooms, 500, 10)
            stop = threading.Event()

            def transfer():
                while not stop.is_set():
                    self.curl("-H", "Authorization: Bearer " + dtok, path)
            t = threading.Thread(target=transfer)
            t.start()
            try:
                figures["latency_transfer"] = self.fixed_rate_posts(guids, rooms, 500, 10)
            finally:
                stop.set()
                t.join()
        finally:
            os.remove(src)
            self.kamcmd("pchat.config.unset", "max_file_size")
        say("files: %s" % figures)
        for key, what in (("soap_upload", "MB/s uploaded through Lync's web service (1 MB "
                           "chunks, one connection)"),
                          ("soap_download", "MB/s downloaded through Lync's web service (1 MB "
                           "chunks, one connection)"),
                          ("plain_upload", "MB/s uploaded with one plain PUT (curl)"),
                          ("plain_download", "MB/s downloaded with one plain GET (curl)")):
            self.record("files-" + key.replace("_", "-"), "%s, a %d MB file" % (what, mb),
                        [figures[key + "_mb_s"]], None, "-")
        self.record("files-chat-latency", "delivery p99 (ms) at 500 posts/s while downloads "
                    "run back to back (idle: %.2f)" % figures["latency_idle"][1],
                    [figures["latency_transfer"][1]], None, "-",
                    extra={"idle": figures["latency_idle"],
                           "transfer": figures["latency_transfer"]}, lower_is_better=True)

    # ---- output

    def machine(self):
        cpu = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
        kamailio = subprocess.run(["kamailio", "-v"], stdout=subprocess.PIPE,
                                  text=True).stdout.splitlines()[0]
        return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kb / 2**20, 1),
                "kernel": platform.release(), "kamailio": kamailio,
                "kamailio_children": CHILDREN, "shm_mb": SHM_MB, "pkg_mb": PKG_MB,
                "max_sessions": MAX_SESSIONS,
                "memory_manager": os.environ.get("PCHAT_LAB_MEM_MANAGER", "tlsf"),
                "transport": "UDP on loopback, generator on the same cores",
                "quick": self.quick, **self.settings}

    def table(self):
        lines = ["| scenario | figure | result | spread | goal | met |",
                 "| --- | --- | --- | --- | --- | --- |"]
        for name, r in self.results.items():
            fig = r["median"]
            text = "-" if fig is None else ("%.1f" % fig if fig < 100 else "%.0f" % fig)
            if "logins_per_s" in r:
                text += " (%.0f logins/s)" % r["logins_per_s"]
            elif "x_imc" in r:
                text += " (%.2f x imc, %.2f x ceiling)" % (r["x_imc"], r.get("x_ceiling", 0))
            elif "x_ceiling" in r:
                text += " (%.2f x ceiling)" % r["x_ceiling"]
            spread = "-" if not r["spread"] or len(r["runs"]) < 2 else "%.0f-%.0f" % tuple(
                r["spread"])
            met = {True: "yes", False: "**no**", None: "-"}[r["met"]]
            lines.append("| %s | %s | %s | %s | %s | %s |" % (name, r["figure"], text, spread,
                                                             r["goal"], met))
        for name, why in self.failed.items():
            lines.append("| %s | did not complete: %s | - | - | - | - |" % (
                name, why.splitlines()[0][:120]))
        return "\n".join(lines)

    def write(self):
        os.makedirs(RESULTS, exist_ok=True)
        stamp = datetime.datetime.utcnow().strftime("%Y-%m-%d-%H%M")
        base = os.path.join(RESULTS, stamp + ("-quick" if self.quick else ""))
        with open(base + ".json", "w") as f:
            json.dump({"date": stamp, "machine": self.machine(), "results": self.results,
                       "failed": self.failed, "curves": self.plot}, f, indent=1, sort_keys=True)
        self.write_plot(base)
        return base

    def write_plot(self, base):
        if not shutil.which("gnuplot") or not self.plot:
            say("no plot (gnuplot missing or no curves)")
            return
        data = []
        for name, steps in self.plot.items():
            path = "%s-%s.dat" % (base, name)
            with open(path, "w") as f:
                for s in steps:
                    offered = s["offered"] * (150 if name == "fanout-150" else 149)
                    f.write("%f %f %f\n" % (offered, s["latency_ms"]["p50"],
                                            s["latency_ms"]["p99"]))
            data.append((name, path))
        plots = ", ".join("'%s' using 1:3 with linespoints title '%s p99', '%s' using 1:2 with "
                          "linespoints title '%s p50'" % (p, n, p, n) for n, p in data)
        script = ("set terminal pngcairo size 900,560\nset output '%s.png'\n"
                  "set title 'Delivery latency against offered load (rooms of 150)'\n"
                  "set xlabel 'offered deliveries/s'\nset ylabel 'latency (ms)'\n"
                  "set logscale y\nset grid\nset key top left\nplot %s\n" % (base, plots))
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        for _, path in data:
            os.remove(path)


SCENARIOS = ["ceiling", "imc", "fanout150", "fanout16k", "post_rate", "login", "reconnect",
             "sessions", "history", "search", "cost", "compliance", "files"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small seeds, one run each (<= 5 min)")
    p.add_argument("--lab-dir", default=os.path.join(TOP, "build", "bench-lab"))
    p.add_argument("--port-base", type=int, default=27000)
    p.add_argument("--only", nargs="*", choices=SCENARIOS, help="run only these scenarios")
    args = p.parse_args()
    started = time.time()
    subprocess.run(["make", "-s", "-C", os.path.join(HERE, "load")], check=True)
    b = Bench(args)
    b.up()
    try:
        for name in args.only or SCENARIOS:
            t0 = time.time()
            try:
                getattr(b, name)()
            except (RuntimeError, subprocess.SubprocessError, ValueError, KeyError) as e:
                # one scenario's failure is a result too; the others still run
                say("%s FAILED: %s" % (name, e))
                b.failed[name] = str(e)
            say("%s done in %.0f s" % (name, time.time() - t0))
    finally:
        b.down()
    b.ratios()
    base = b.write()
    print(b.table())
    print("\nresults: %s.json (plot %s.png); %.0f s in all" % (
        os.path.relpath(base, TOP), os.path.relpath(base, TOP), time.time() - started))


if __name__ == "__main__":
    main()
