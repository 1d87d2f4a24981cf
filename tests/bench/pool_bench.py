#!/usr/bin/python3
"""What a pool costs: the same room, the same posts, on labs of 1, 2, 3 and 4 nodes with the
sessions spread evenly over the nodes (fanout_quick.py --spread). Prints, per pool size, the
deliveries per second, the delivery latency on the poster's node and on the other nodes, and the
CPU time the whole pool (every Kamailio process of every node, and Redis) spent per post while
posting.

    tests/bench/pool_bench.py --sessions 60 --posts 300 --interval 0.01 --nodes 1 2 3 4

Each pool size gets a fresh lab on free ports, stopped afterwards.
"""
import argparse
import os
import sys
import types

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import fanout_quick  # noqa: E402
from bench_lab import processes  # noqa: E402
from lab import Lab  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pgids, pids):
    """CPU time (user + system) of every process in the process groups, and of the pids."""
    return sum(int(f[11]) + int(f[12]) for pid, f in processes()
               if int(f[2]) in pgids or pid in pids) / TICK


def measure(nodes, args):
    lab = Lab(nodes=nodes, defines="TM_WT_TIMER=1000", name="poolbench").up()
    try:
        pgids = {int(p) for p in lab.env["PCHAT_NODE_PGIDS"].split()}
        redis = {int(open(os.path.join(lab.dir, "redis", "redis.pid")).read())}
        cpu = {}

        def mark(phase):
            cpu[phase] = (cpu_seconds(pgids, set()), cpu_seconds(set(), redis))
        run_args = types.SimpleNamespace(env=os.path.join(lab.dir, "lab.env"),
                                         sessions=args.sessions, posts=args.posts,
                                         interval=args.interval, spread=True, mark=mark)
        rc, figures = fanout_quick.run(run_args)
        if rc != 0 or "done" not in cpu:
            raise SystemExit("the measurement with %d nodes failed" % nodes)
        figures["kamailio_ms"] = (cpu["done"][0] - cpu["posting"][0]) * 1000 / args.posts
        figures["redis_ms"] = (cpu["done"][1] - cpu["posting"][1]) * 1000 / args.posts
        return figures
    finally:
        lab.down()
        lab.remove()


def fmt(p):
    return "%6.1f %6.1f" % p if p else "     -      -"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=60)
    p.add_argument("--posts", type=int, default=300)
    p.add_argument("--interval", type=float, default=0.01, help="seconds between posts")
    p.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 3, 4])
    args = p.parse_args()
    rows = [(n, measure(n, args)) for n in args.nodes]
    print()
    print("%d sessions in one room, %d posts, one every %.0f ms" % (
        args.sessions, args.posts, args.interval * 1000))
    print("nodes  deliveries/s  local ms (p50 p99)  remote ms (p50 p99)  "
          "CPU ms per post: Kamailio  Redis")
    for n, f in rows:
        print("%5d  %12.0f  %18s  %19s  %24.2f  %5.2f" % (
            n, f["rate"], fmt(f["local"]), fmt(f["remote"]), f["kamailio_ms"], f["redis_ms"]))


if __name__ == "__main__":
    main()
