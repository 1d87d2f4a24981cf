#!/usr/bin/python3
"""What one full login costs (INVITE, ACK, getserverinfo, bjoin of 3 rooms, 3 x bccontext):
Kamailio instructions per login and per step (callgrind, every process of the node, inclusive
costs of the step's handler), MariaDB statements per login by kind (the general log) and Redis
commands per login (INFO commandstats). Counts, not times: they hold on a shared, noisy machine.

    tests/bench/login_profile.py [--logins 300] [--rate 30] [--history 25]

Brings up a lab of one node under callgrind in a folder of its own (build/profile-lab, ports
from 28000), seeds three rooms with --history posts each, runs the generator's login mode
once, prints the figures (and --json FILE writes them), and stops the lab (the folder is made
anew at the next run).
"""
import argparse
import collections
import json
import os
import re
import shutil
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
# The handlers of the steps of a login; a step's cost is its handler's inclusive cost.
STEPS = [("INVITE", "handle_invite"), ("getserverinfo", "cmd_getserverinfo"),
         ("bjoin of 3", "cmd_bjoin"), ("3 x bccontext", "cmd_bccontext"),
         ("after a join (readiness, sender)", "make_ready")]
# Where the rest goes: SIP parsing and tm (the requests, the INFOs sent and their answers).
OTHER = ["receive_msg", "reply_received", "pchat_dialog_send_info", "pchat_xccos_parse"]


def say(msg):
    print("profile: " + msg, file=sys.stderr, flush=True)


class Profile:
    def __init__(self, args):
        self.args = args
        self.dir = os.path.abspath(args.lab_dir)
        self.cg = os.path.join(self.dir, "callgrind")
        self.env = {}

    def lab(self, *cmd, wrapper=None):
        env = dict(os.environ, PCHAT_LAB_DEFINES="PCHAT_MAX_SESSIONS_PER_SOURCE=0 "
                   "PCHAT_USER_REQUEST_RATE=0")
        if wrapper:
            env["PCHAT_LAB_WRAPPER"] = wrapper
        res = subprocess.run([os.path.join(TOP, "scripts", "lab")] + list(cmd) + [
            "--dir", self.dir], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        if res.returncode != 0:
            raise RuntimeError("scripts/lab %s failed:\n%s" % (" ".join(cmd), res.stdout))

    def up(self):
        # a fresh folder: the sessions of an earlier run, cleaned up from Redis when the node
        # starts, would count as commands of these logins
        if os.path.exists(self.dir):
            self.lab("down")
            shutil.rmtree(self.dir)
        os.makedirs(self.cg)
        self.lab("up", "--nodes", "1", "--port-base", str(self.args.port_base),
                 wrapper="valgrind --tool=callgrind --trace-children=yes "
                 "--callgrind-out-file=%s/callgrind.%%p" % self.cg)
        self.env = read_env(os.path.join(self.dir, "lab.env"))

    def sql(self, query):
        return bench_lab.sql(self.env, query)

    def redis(self, *args):
        return subprocess.run(["redis-cli", "-h", self.env["PCHAT_REDIS_HOST"], "-p",
                               self.env["PCHAT_REDIS_PORT"]] + list(args),
                              stdout=subprocess.PIPE, text=True, check=True).stdout

    def rooms(self):
        """Three fresh open rooms with --history posts each; the file of their GUIDs."""
        tag = "profile %d" % (int(time.time() * 1000) % 10**9)
        self.sql("INSERT INTO pchat_room (guid, name, category_id, privacy) SELECT UUID(), "
                 "CONCAT('%s ', seq), 1, 'open' FROM seq_1_to_3" % tag)
        n = self.args.history
        if n:
            self.sql("INSERT INTO pchat_message (room_id, seq, author, ts, content) SELECT "
                     "r.id, s.seq, 'sip:bench@pchat.test', UTC_TIMESTAMP(6), CONCAT('<chat>"
                     "history ', s.seq, '</chat>') FROM pchat_room r JOIN seq_1_to_%d s WHERE r.name LIKE '%s %%';"
                     "INSERT INTO pchat_room_sequence (room_id, last_seq) SELECT id, %d FROM "
                     "pchat_room WHERE name LIKE '%s %%'" % (n, tag, n, tag))
        path = os.path.join(self.dir, "profile.guids")
        with open(path, "w") as f:
            f.write(self.sql("SELECT guid FROM pchat_room WHERE name LIKE '%s %%'" % tag) + "\n")
        return path

    def callgrind(self, op):
        """callgrind_control OP on every process of the node at once: a process answers when it
        next runs, which for an idle one can take seconds, or never (an idle process counts
        nothing, so it is left out after 30 s)."""
        pids = bench_lab.group_pids(int(self.env["PCHAT_NODE_PGIDS"].split()[0]))
        procs = [subprocess.Popen(["callgrind_control", op, str(pid)],
                                  stdout=subprocess.DEVNULL) for pid in pids]
        deadline = time.time() + 30
        for proc in procs:
            try:
                proc.wait(timeout=max(deadline - time.time(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def start_counting(self):
        self.callgrind("-z")
        self.sql("SET GLOBAL general_log = OFF; SET GLOBAL log_output = 'FILE'; "
                 "SET GLOBAL general_log_file = '%s'" % os.path.join(self.dir, "general.log"))
        open(os.path.join(self.dir, "general.log"), "w").close()
        self.sql("SET GLOBAL general_log = ON")
        self.redis("CONFIG", "RESETSTAT")

    def stop_counting(self):
        """Stops the counts, the quick ones first (the dumps take seconds); the new dumps and
        the Redis commands."""
        self.sql("SET GLOBAL general_log = OFF")
        cmds = self.commands()
        before = set(os.listdir(self.cg))
        self.callgrind("-d")
        time.sleep(1)
        return sorted(set(os.listdir(self.cg)) - before), cmds

    def run_logins(self, guids):
        """Runs the logins; the counters are zeroed in the generator's pause before them and
        dumped in its pause after them (callgrind_control takes seconds under load)."""
        a = self.args
        proc = subprocess.Popen([LOAD, "--server", "127.0.0.1:%s" % self.env[
            "PCHAT_SIP_PORTS"].split()[0], "--mode", "login", "--guids", guids, "--rates",
            str(a.rate), "--step", "%.2f" % (a.logins / a.rate), "--max-p99", "60000",
            "--pause", "40"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:
            if "ready for the steps" in line:
                break
        self.start_counting()
        for line in proc.stderr:
            if "steps done" in line:
                break
        dumps, cmds = self.stop_counting()
        out = json.loads(proc.communicate(timeout=300)[0])
        return out, dumps, cmds

    # ---- the figures

    def instructions(self, dumps):
        """Total instructions and the inclusive cost of each function of interest."""
        total, by_fn = 0, collections.Counter()
        wanted = {fn for _, fn in STEPS} | set(OTHER)
        for name in dumps:
            path = os.path.join(self.cg, name)
            with open(path) as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        total += int(line.split()[1])
                        break
            out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100",
                                  path], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True).stdout
            for line in out.splitlines():
                m = re.match(r"\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\S+:)?(\w+)(?:\s|$)", line)
                if m and m.group(2) in wanted:
                    by_fn[m.group(2)] += int(m.group(1).replace(",", ""))
        return total, by_fn

    def statements(self):
        """Statements the node sent by kind (first words, literals left out), in the log."""
        kinds = collections.Counter()
        with open(os.path.join(self.dir, "general.log"), errors="replace") as f:
            for line in f:
                m = re.match(r"^(?:\S+\s+\S+\s+|\s+)(\d+)\s+(Query|Execute|Prepare|Close stmt|"
                             r"Reset stmt)\s*(.*)", line)
                if not m:
                    continue
                text = re.sub(r"'[^']*'|\b\d+\b", "?", m.group(3))[:90]
                if "general_log" in text:
                    continue
                kinds["%s %s" % (m.group(2), text)] += 1
        return kinds

    def commands(self):
        counts = {}
        for line in self.redis("INFO", "commandstats").splitlines():
            m = re.match(r"cmdstat_(\S+):calls=(\d+)", line)
            if m and m.group(1) not in ("config", "info"):
                counts[m.group(1)] = int(m.group(2))
        return counts


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--logins", type=int, default=300)
    p.add_argument("--rate", type=float, default=30, help="logins/s (callgrind is slow)")
    p.add_argument("--history", type=int, default=25, help="posts in each room")
    p.add_argument("--lab-dir", default=os.path.join(TOP, "build", "profile-lab"))
    p.add_argument("--port-base", type=int, default=28000)
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args()
    subprocess.run(["make", "-s", "-C", os.path.join(HERE, "load")], check=True)
    prof = Profile(args)
    say("lab under callgrind in %s" % prof.dir)
    prof.up()
    try:
        guids = prof.rooms()
        out, dumps, cmds = prof.run_logins(guids)
        step = out["steps"][0]
        n = step["acked"]
        if n == 0 or step["failed"]:
            raise RuntimeError("logins failed: %s" % json.dumps(step))
        total, by_fn = prof.instructions(dumps)
        kinds = prof.statements()
    finally:
        prof.lab("down")
    fig = {"logins": n, "instructions_per_login": total / n,
           "steps": {label: by_fn[fn] / n for label, fn in STEPS},
           "other": {fn: by_fn[fn] / n for fn in OTHER},
           "sql_per_login": {k: v / n for k, v in kinds.most_common()},
           "sql_round_trips_per_login": sum(v for k, v in kinds.items()
                                             if not k.startswith("Close")) / n,
           "redis_per_login": {k: v / n for k, v in sorted(cmds.items())},
           "redis_commands_per_login": sum(cmds.values()) / n}
    print("%d logins, %d posts of history per room" % (n, args.history))
    print("Kamailio instructions per login (all processes): %.0f" % fig["instructions_per_login"])
    for label, v in fig["steps"].items():
        print("  %-34s %10.0f" % (label, v))
    for fn, v in fig["other"].items():
        print("  %-34s %10.0f (inclusive)" % (fn, v))
    print("MariaDB round trips per login: %.2f" % fig["sql_round_trips_per_login"])
    for k, v in fig["sql_per_login"].items():
        print("  %5.2f  %s" % (v, k))
    print("Redis commands per login: %.2f" % fig["redis_commands_per_login"])
    for k, v in fig["redis_per_login"].items():
        print("  %5.2f  %s" % (v, k))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(fig, f, indent=1)


if __name__ == "__main__":
    main()
