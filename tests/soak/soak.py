#!/usr/bin/python3
"""The soak test (make soak; a short run in make test): one node under a steady mixed load for
--minutes, its memory and its back ends' sampled throughout, judged flat after a warm-up.

The load is twice the Lync model's rates (Lync plans 10 joins/s and 24-74 posts/s for 80,000
users): the generator's soak mode (tests/bench/load/soak.c) logs --sessions sessions in, puts
them in one room of up to 16,000 members, rooms of 150 and rooms of 30, then posts 150 times a
second over the rooms and has churners join and part rooms 20 times a second, every session
refreshing itself (UPDATE) every 5 minutes, and checks every delivery (nothing lost, nothing
twice, the room's order) and that no session ends early. Every --interval seconds the sampler
records the node's shm in use (core.shmmem), the pkg memory in use summed over its processes
(pkg.stats), the RSS and PSS of its processes and the two parts of their PSS that are the
node's own (private memory: heaps, pkg, stacks; and the shm pages touched; not the files that
other programs map too), MariaDB's RSS, the memory it counts itself (Memory_used) and the
buffer pool pages it fills, and Redis's used_memory and RSS.

After the warm-up (the first WARMUP of the run, at least WARMUP_MIN seconds), each judged
series' least-squares slope, carried over the whole run, must stay under BOUND_SHARE of its mean
and at least BOUND_FLOOR. MariaDB's RSS grows with its buffer pool (up to its size: bounded by
design), the node's RSS counts a shared page in every process that touched it, and its PSS
shares the pages of Kamailio's files and libraries with every other Kamailio on the machine, so
these are shown, not judged.

The run writes RESULTS/<date>.json (samples, summary, the generator's figures) and .png (a panel
per series), prints the table, and exits 1 when memory is not flat or a delivery check failed.
"""
import argparse
import datetime
import json
import math
import os
import re
import subprocess
import sys
import threading
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
sys.path.insert(0, os.path.join(TOP, "tests", "bench"))
import bench  # noqa: E402
from bench_lab import group_pids  # noqa: E402
from lab import free_port_base  # noqa: E402

POST_RATE = 150.0       # posts/s: twice Lync's 74
JOIN_RATE = 20.0        # joins/s: twice Lync's 10
BIG_ROOM = 16000        # members of the big room (fewer when the sessions do not allow it)
BIG_RATE = 0.2          # posts/s in the big room: one every 5 s, 3,200 deliveries/s
SMALL_ROOMS = 3600      # members of the rooms of 150 and 30 (half each), at most
STAY = 10.0             # s a churner stays in a room
LOGIN_RATE = 500        # logins/s before the steady load: the joins' notices take the rest
DRAIN = 10.0            # s a churner waits for its owed posts; the generator's drain
MAX_P99_MS = 5000       # deliveries later than this mean the node no longer keeps up
WARMUP = 0.2            # share of the run before memory is judged,
WARMUP_MIN = 30.0       # ... and at least this many s (shm fills with transactions for 20-30 s)
BOUND_SHARE = 0.05      # growth over the run allowed, as a share of the series' mean
BOUND_FLOOR = 1 << 20   # ... and at least this many bytes
PKG_MANAGER = "fm"      # keeps pkg.stats current in every process (TLSF does not)
MIB = float(1 << 20)

# (key, title, judged): every series of a sample, in the order of the plot's panels
SERIES = [
    ("shm_used", "node shm in use (core.shmmem)", True),
    ("pkg_used", "node pkg in use, all processes (pkg.stats)", True),
    ("node_private", "node private memory (Pss_Anon: heaps, pkg, stacks), all processes", True),
    ("node_shm_pages", "node shm pages touched (Pss_Shmem), all processes", True),
    ("node_pss", "node PSS, all processes", False),
    ("node_rss", "node RSS, all processes (shared pages counted in each)", False),
    ("mariadb_memory_used", "MariaDB Memory_used", True),
    ("mariadb_rss", "MariaDB RSS", False),
    ("mariadb_buffer_pool", "MariaDB buffer pool pages in use", False),
    ("redis_used", "Redis used_memory", True),
    ("redis_rss", "Redis used_memory_rss", False),
]


def say(msg):
    print("soak: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the rooms

def layout(sessions):
    """The rooms for this many sessions: [(label, members, posts/s)], and the churners. Twice
    as many churners as are in a room at a time; the big room takes what the rooms of 150 and
    30 leave, up to BIG_ROOM."""
    churners = int(2 * JOIN_RATE * STAY)
    rest = sessions - churners
    big = min(BIG_ROOM, rest - min(SMALL_ROOMS, rest // 2))
    small = rest - big
    n150 = small // 2 // 150
    n30 = (small - n150 * 150) // 30
    if big < 1 or n150 < 1 or n30 < 1:
        raise SystemExit("soak: %d sessions are too few (at least %d)"
                         % (sessions, churners + 600))
    rate = (POST_RATE - BIG_RATE) / (n150 + n30)
    rooms = [("big", big, BIG_RATE)] + [("150", 150, rate)] * n150 + [("30", 30, rate)] * n30
    return rooms, sessions - sum(m for _, m, _ in rooms)


def room_counts(rooms):
    """How many rooms of each kind the layout has."""
    return {label: sum(r[0] == label for r in rooms) for label in ("big", "150", "30")}


def room_file(b, rooms):
    """Fresh rooms in the lab for the layout; the generator's --guids file."""
    guids = {}
    for label in dict.fromkeys(label for label, _, _ in rooms):
        count = sum(1 for r in rooms if r[0] == label)
        with open(b.rooms("soak-" + label, count)) as f:
            guids[label] = f.read().split()
    path = os.path.join(b.dir, "soak.guids")
    with open(path, "w") as f:
        for label, members, rate in rooms:
            f.write("%s %d %.4f\n" % (guids[label].pop(0), members, rate))
    return path


# ---------------------------------------------------------------- the sampler

SMAPS = ("Rss", "Pss", "Pss_Anon", "Pss_Shmem")


def smaps(pid):
    """A process's SMAPS fields in bytes; zeros when it is gone."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            fields = dict(line.split(":", 1) for line in f if line.split(":", 1)[0] in SMAPS)
    except OSError:
        fields = {}
    return {k: int(fields.get(k, "0 kB").split()[0]) * 1024 for k in SMAPS}


class Sampler:
    def __init__(self, b):
        self.b = b
        self.pgid = int(b.env["PCHAT_NODE_PGIDS"].split()[0])
        with open(os.path.join(b.dir, "mysql", "mysqld.pid")) as f:
            self.mysqld = int(f.read())

    def sample(self):
        s = self.node()
        s.update(self.mariadb())
        s.update(self.redis())
        with open("/proc/loadavg") as f:
            s["load1"] = float(f.read().split()[0])  # the machine's, for reading the plot
        return s

    def node(self):
        status = self.b.kamcmd("pchat.status")
        pkg = self.b.kamcmd("pkg.stats")
        mem = [smaps(pid) for pid in group_pids(self.pgid)]
        return {"shm_used": bench.rpc_field(self.b.kamcmd("core.shmmem"), "used"),
                "pkg_used": sum(int(v) for v in re.findall(r"^\s*used:\s*(\d+)", pkg, re.M)),
                "node_private": sum(m["Pss_Anon"] for m in mem),
                "node_shm_pages": sum(m["Pss_Shmem"] for m in mem),
                "node_pss": sum(m["Pss"] for m in mem), "node_rss": sum(m["Rss"] for m in mem),
                "sessions": bench.rpc_field(status, "sessions"),
                "queued_kb": bench.rpc_field(status, "queued_kb")}

    def mariadb(self):
        status = dict(line.split("\t", 1) for line in self.b.sql(
            "SHOW GLOBAL STATUS WHERE Variable_name IN ('Memory_used', "
            "'Innodb_buffer_pool_pages_total', 'Innodb_buffer_pool_pages_free', "
            "'Innodb_page_size')").splitlines())
        pages = (int(status["Innodb_buffer_pool_pages_total"]) -
                 int(status["Innodb_buffer_pool_pages_free"]))
        return {"mariadb_memory_used": int(status["Memory_used"]),
                "mariadb_buffer_pool": pages * int(status["Innodb_page_size"]),
                "mariadb_rss": smaps(self.mysqld)["Rss"]}

    def redis(self):
        out = subprocess.run(["redis-cli", "-h", self.b.env["PCHAT_REDIS_HOST"], "-p",
                              self.b.env["PCHAT_REDIS_PORT"], "info", "memory"],
                             stdout=subprocess.PIPE, text=True, check=True).stdout
        info = dict(line.strip().split(":", 1) for line in out.splitlines() if ":" in line)
        return {"redis_used": int(info["used_memory"]), "redis_rss": int(info["used_memory_rss"])}

    def settled(self, limit=30):
        """A sample once the node holds no session (up to limit s) and the transactions that
        were answered are gone (tm's wait timer, 5 s in the lab); INFOs to sessions that were
        ending when the generator left wait for fr_timer (30 s) unanswered, so tm_current says
        how many are left."""
        t0 = time.time()
        while (bench.rpc_field(self.b.kamcmd("pchat.status"), "sessions") > 0 and
               time.time() < t0 + limit):
            time.sleep(1)
        time.sleep(6)
        sample = dict(self.sample(), tm_current=bench.rpc_field(self.b.kamcmd("tm.stats"),
                                                                 "current"))
        say("%d sessions and %d transactions left %.0f s after the generator" % (
            sample["sessions"], sample["tm_current"], time.time() - t0))
        return sample


# ---------------------------------------------------------------- the run

class Marks:
    """What the generator says on stderr: its lines go on to ours, and the times the steady load
    starts and ends are kept."""

    def __init__(self, proc, t0):
        self.steady = [None, None]
        self.t0 = t0
        self.thread = threading.Thread(target=self.read, args=(proc.stderr,), daemon=True)
        self.thread.start()

    def read(self, stream):
        for line in stream:
            sys.stderr.write(line)
            for i, words in enumerate(("steady load for", "steady load over")):
                if words in line:
                    self.steady[i] = time.time() - self.t0


def generate(b, sampler, args, guids):
    """Runs the generator, sampling every args.interval s; (its figures, samples, marks)."""
    cmd = [bench.LOAD, "--server", b.server, "--mode", "soak", "--sessions", str(args.sessions),
           "--guids", guids, "--login-rate", str(LOGIN_RATE), "--duration",
           str(args.minutes * 60), "--churn-rate", str(JOIN_RATE), "--stay", str(STAY),
           "--drain", str(DRAIN), "--max-p99", str(MAX_P99_MS)]
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    marks = Marks(proc, t0)
    samples = []
    while proc.poll() is None:
        t = time.time() - t0
        samples.append(dict(sampler.sample(), t=round(t, 1)))
        time.sleep(max(0.0, t0 + t + args.interval - time.time()))
    out = proc.stdout.read()
    marks.thread.join()
    say("the generator ended, %.0f s after it started" % (time.time() - t0))
    if proc.returncode != 0 or not out.strip():
        raise RuntimeError("pchat-load failed (exit %s)" % proc.returncode)
    return json.loads(out), samples, marks.steady


def run(args):
    rooms, churners = layout(args.sessions)
    counts = room_counts(rooms)
    say("%d sessions: a room of %d, %d of 150, %d of 30, %d churners; %g posts/s, %g joins/s "
        "for %g min" % (args.sessions, rooms[0][1], counts["150"], counts["30"], churners,
                        POST_RATE, JOIN_RATE, args.minutes))
    subprocess.run(["make", "-s", "-C", os.path.dirname(bench.LOAD)], check=True)
    b = bench.Bench(types.SimpleNamespace(quick=False, lab_dir=args.lab_dir,
                                          port_base=free_port_base(start=args.port_base)))
    b.down()  # a node from an earlier run would carry its memory into this one
    b.up(PCHAT_LAB_PKG_MANAGER=PKG_MANAGER)
    try:
        guids = room_file(b, rooms)
        sampler = Sampler(b)
        idle = sampler.sample()
        load, samples, steady = generate(b, sampler, args, guids)
        after = sampler.settled()
        machine = b.machine()
    finally:
        b.down()
    if None in steady:
        raise RuntimeError("the generator never said when the steady load started and ended")
    return {"config": {"minutes": args.minutes, "sessions": args.sessions,
                       "interval_s": args.interval, "post_rate": POST_RATE,
                       "join_rate": JOIN_RATE, "stay_s": STAY, "churners": churners,
                       "rooms": counts, "big_room_members": rooms[0][1],
                       "big_room_rate": BIG_RATE, "other_room_rate": rooms[-1][2],
                       "pkg_manager": PKG_MANAGER},
            "machine": machine, "load": load, "idle": idle, "after": after,
            "steady": steady, "samples": samples}


# ---------------------------------------------------------------- the judgement

def fit(points):
    """Least-squares slope and intercept of [(t, v)]."""
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    slope = sum((t - mt) * (v - mv) for t, v in points) / var if var else 0.0
    return slope, mv - slope * mt


def series_summary(points, run_s, judged):
    """A series after the warm-up: its figures, and whether its growth over the run (the
    fitted slope times the run's length) stays under its bound."""
    slope, intercept = fit(points)
    mean = sum(v for _, v in points) / len(points)
    growth = slope * run_s
    bound = max(BOUND_SHARE * mean, BOUND_FLOOR)
    return {"judged": judged, "start": points[0][1], "end": points[-1][1],
            "max": max(v for _, v in points), "mean": mean, "slope_per_hour": slope * 3600,
            "intercept": intercept, "growth_over_run": growth, "bound": bound,
            "flat": growth <= bound if judged else None}


def judge(result):
    """Each series' summary after the warm-up, whether memory is flat and the deliveries
    checked out."""
    start, end = result["steady"]
    warm = start + max(WARMUP * (end - start), WARMUP_MIN)
    summary = {}
    for key, title, judged in SERIES:
        points = [(s["t"], s[key]) for s in result["samples"] if warm <= s["t"] <= end]
        if len(points) < 3:
            raise RuntimeError("too few samples after the warm-up (%d): sample more often"
                               % len(points))
        summary[key] = dict(series_summary(points, end - start, judged), title=title)
    result["warmup_end"] = warm
    result["summary"] = summary
    result["memory_flat"] = all(s["flat"] is not False for s in summary.values())
    load = result["load"]
    # a step passes with the churners' checks too (and no session ended, no refresh refused)
    result["deliveries_ok"] = bool(load["login_failed"] == 0 and load["steps"][0]["passed"])
    result["passed"] = result["memory_flat"] and result["deliveries_ok"]


def table(result):
    lines = ["| series | start MiB | end MiB | max MiB | slope MiB/h | growth over the run "
             "(bound) MiB | flat |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for key, _, _ in SERIES:
        s = result["summary"][key]
        flat = {True: "yes", False: "**no**", None: "(shown)"}[s["flat"]]
        lines.append("| %s | %.1f | %.1f | %.1f | %+.2f | %+.2f (%.1f) | %s |" % (
            key, s["start"] / MIB, s["end"] / MIB, s["max"] / MIB, s["slope_per_hour"] / MIB,
            s["growth_over_run"] / MIB, s["bound"] / MIB, flat))
    return "\n".join(lines)


def deliveries(result):
    """What the generator checked, in a few lines."""
    load = result["load"]
    step, churn, lat = load["steps"][0], load["churn"], load["steps"][0]["latency_ms"]
    return "\n".join([
        "logins %(logged_in)d of %(sessions)d in %(login_seconds).0f s, %(login_failed)d failed; "
        "%(refreshes)d refreshes, %(refresh_failed)d failed; %(server_byes)d sessions ended by "
        "the node" % load,
        "posts %(sent)d sent, %(acked)d acked, %(failed)d failed; deliveries %(deliveries)d of "
        "%(expected)d, %(duplicates)d twice, %(misordered)d out of order, %(wrong_room)d to the "
        "wrong room" % step,
        "delivery latency p50 %(p50).1f ms, p99 %(p99).1f ms, max %(max).0f ms" % lat,
        "churn: %(churners)d churners, %(joins)d joins, %(parts)d parts, %(failed)d failed, "
        "%(starved)d starved; %(deliveries)d deliveries, %(lost)d owed posts missing when they "
        "parted, %(duplicates)d twice, %(misordered)d out of order, %(late)d late after the "
        "part" % churn,
        "deliveries %s" % ("checked: all well" if result["deliveries_ok"] else "FAILED")])


def idle_after(result):
    """The memory of an idle node before the sessions logged in and once they had all ended:
    what a run leaves behind (shown, not judged: caches and tm's wait timer keep some)."""
    return "idle node before the load / after it: " + ", ".join(
        "%s %.1f / %.1f MiB" % (key, result["idle"][key] / MIB, result["after"][key] / MIB)
        for key in ("shm_used", "pkg_used", "node_private", "node_shm_pages",
                    "mariadb_memory_used", "redis_used"))


def machine_load(result):
    """The machine's load while the steady load ran: other programs on the same cores slow the
    node down, and a node that falls behind fills shm with what it has yet to deliver."""
    start, end = result["steady"]
    loads = [s["load1"] for s in result["samples"] if start <= s["t"] <= end]
    return "machine load (1-minute average, %d cores) during the steady load: mean %.1f, max " \
           "%.1f" % (os.cpu_count(), sum(loads) / len(loads), max(loads))


# ---------------------------------------------------------------- output

def write(result, folder):
    os.makedirs(folder, exist_ok=True)
    stamp = datetime.datetime.utcnow().strftime("%Y-%m-%d-%H%M")
    base = os.path.join(folder, "%s-%gmin" % (stamp, result["config"]["minutes"]))
    result["date"] = stamp
    with open(base + ".json", "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    plot(result, base)
    return base


def plot(result, base):
    """A panel per series against minutes since the steady load began (gnuplot, as the bench's
    plot): the warm-up's end and the load's end dashed, and for judged series the fitted line
    after the warm-up."""
    start = result["steady"][0]
    data = base + ".dat"
    with open(data, "w") as f:
        for s in result["samples"]:
            f.write(" ".join(["%.3f" % ((s["t"] - start) / 60)] +
                             ["%.3f" % (s[key] / MIB) for key, _, _ in SERIES] +
                             ["%.2f" % s["load1"]]) + "\n")
    rows = math.ceil((len(SERIES) + 1) / 2)
    script = ["set terminal pngcairo noenhanced size 1200,%d font ',9'" % (260 * rows),
              "set output '%s.png'" % base, "set grid", "set key off",
              "set multiplot layout %d,2 title 'Soak: %g min, %d sessions, %g posts/s, %g "
              "joins/s (%s)'" % (rows, result["config"]["minutes"], result["config"]["sessions"],
                                 POST_RATE, JOIN_RATE, result["date"]),
              "set xlabel 'minutes since the steady load began'"]
    for column, (key, title, _) in enumerate(SERIES, 2):
        script += panel(result, data, column, title, result["summary"][key])
    # the machine is shared: a node starved of CPU falls behind and its queues fill shm
    script += panel(result, data, len(SERIES) + 2, "machine load (1-minute load average, %d "
                    "cores)" % os.cpu_count(), {"flat": None, "judged": False}, "load")
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True, check=True)
    os.remove(data)


def panel(result, data, column, title, s, unit="MiB"):
    """gnuplot's lines for one series' panel."""
    start, end = result["steady"]
    warm, stop = (result["warmup_end"] - start) / 60, (end - start) / 60
    verdict = {True: " - flat", False: " - NOT FLAT", None: ""}[s["flat"]]
    line = "plot '%s' using 1:%d with lines lw 2" % (data, column)
    if s["judged"]:
        # the fit is in bytes against seconds of the run's clock; x is minutes since the start
        line += ", (x >= %f && x <= %f) ? (%f + %f * (x * 60 + %f)) / %f : 1/0 with lines " \
                "dt 3 lw 2" % (warm, stop, s["intercept"], s["slope_per_hour"] / 3600, start, MIB)
    return ["unset arrow",
            "set arrow from %f, graph 0 to %f, graph 1 nohead dt 2" % (warm, warm),
            "set arrow from %f, graph 0 to %f, graph 1 nohead dt 2" % (stop, stop),
            "set title '%s%s'" % (title, verdict), "set ylabel '%s'" % unit, line]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30, help="length of the steady load")
    p.add_argument("--sessions", type=int, default=20000)
    p.add_argument("--interval", type=float, default=10, help="seconds between samples")
    p.add_argument("--results", default=os.path.join(HERE, "results"),
                   help="folder of the JSON and the plot")
    p.add_argument("--lab-dir", default=os.path.join(TOP, "build", "soak-lab"))
    p.add_argument("--port-base", type=int, default=29000,
                   help="where to look for free ports from")
    args = p.parse_args()
    result = run(args)
    judge(result)
    base = write(result, args.results)
    print(table(result))
    print()
    print(deliveries(result))
    print(idle_after(result))
    print(machine_load(result))
    print("memory %s after the warm-up (growth bound: %d%% of the mean, at least %d MiB); "
          "results: %s.json, plot %s.png" % (
              "flat" if result["memory_flat"] else "NOT FLAT", BOUND_SHARE * 100,
              BOUND_FLOOR / MIB, os.path.relpath(base, TOP), os.path.relpath(base, TOP)))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
