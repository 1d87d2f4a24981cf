#!/usr/bin/python3
"""Batch join of many busy rooms: a bjoin of 100 rooms with 75 users in each, all different (the
biggest participant lists a batch can meet), timed through the chat service (INFO sent -> reply
received), with the reply's size.

    tests/bench/bjoin_bench.py --env build/lab/lab.env --rooms 100 --users 75 --joins 20

The rooms' users are written straight into the pool's presence in Redis (what the module reads
for participant lists), so no thousands of sessions are needed; the rooms stay in the lab's
database and their presence until the next presence sync of the lab's nodes.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from lab import read_env  # noqa: E402
from xccos import Q, ChatClient, resp_code  # noqa: E402


def sql(env, query):
    return subprocess.run(["mariadb", "--no-defaults", "-S", env["PCHAT_MYSQL_SOCKET"], "-u",
                           "root", "--batch", "--skip-column-names", env["PCHAT_MYSQL_DB"],
                           "-e", query], check=True, stdout=subprocess.PIPE, text=True).stdout


def busy_rooms(env, n, users):
    """n open rooms, each with its own users present in the pool."""
    guids = [str(uuid.uuid4()) for _ in range(n)]
    sql(env, "INSERT INTO pchat_room (guid, name, category_id, privacy) VALUES " + ",".join(
        "('%s', 'bjoin bench %s', 1, 'open')" % (g, g[:8]) for g in guids))
    ids = sql(env, "SELECT id FROM pchat_room WHERE guid IN (%s)" % ",".join(
        "'%s'" % g for g in guids)).split()
    script = "".join("HSET pchat:room:%s:roles %s 1\n" % (rid, " 1 ".join(
        "sip:u%s-%d@%s" % (rid, u, env["PCHAT_DOMAIN"]) for u in range(users))) for rid in ids)
    subprocess.run(["redis-cli", "-p", env["PCHAT_REDIS_PORT"]], input=script, text=True,
                   check=True, stdout=subprocess.DEVNULL)
    return ["ma-chan://%s/%s" % (env["PCHAT_DOMAIN"], g) for g in guids]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                 "build", "lab", "lab.env"))
    p.add_argument("--rooms", type=int, default=100)
    p.add_argument("--users", type=int, default=75)
    p.add_argument("--joins", type=int, default=20)
    p.add_argument("--proto", default="tcp", help="of the timed client (a reply over 64 KB "
                   "cannot come over UDP)")
    args = p.parse_args()
    env = read_env(args.env)
    server = (env["PCHAT_SIP_HOST"], int(env["PCHAT_SIP_PORTS"].split()[0]))
    rooms = busy_rooms(env, args.rooms, args.users)
    times, sizes = [], []
    for i in range(args.joins):
        c = ChatClient(server, "bjoiner%d" % i, proto=args.proto)
        try:
            c.login()
            t0 = time.perf_counter()
            rpl = c.bjoin(rooms, timeout=30)
            times.append((time.perf_counter() - t0) * 1000)
            assert resp_code(rpl) == 200
            sizes.append(len(rpl.info.body))
            joined = len(list(rpl.root.iter(Q + "chanib")))
            listed = len(list(rpl.root.iter(Q + "uib")))
        finally:
            c.close()
    times.sort()
    print("bjoin of %d rooms with %d users each: median %.1f ms, p95 %.1f ms; reply %d bytes, "
          "%d rooms joined, %d users listed" % (args.rooms, args.users, statistics.median(times),
                                               times[int(len(times) * 0.95) - 1],
                                               statistics.median(sizes), joined, listed))


if __name__ == "__main__":
    main()
