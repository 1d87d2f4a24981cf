#!/usr/bin/python3
"""Room search with many rooms: seeds rooms with bulk SQL into a running lab (once), then times
chansrch queries through the chat service (INFO sent -> reply received) and prints the
figures per kind of query.

    tests/bench/search_bench.py --env build/lab/lab.env --rooms 100000 --queries 200

Rooms are named "<adjective> <noun> <number>" in a category "Bench" that allows pchat.test;
70 % are open, 20 % closed, 10 % secret; the bench user is a member of every 50th room.
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from lab import read_env  # noqa: E402
from xccos import Q, ChatClient  # noqa: E402
from bench_lab import ADJECTIVES, NOUNS, seed_rooms  # noqa: E402


def time_queries(client, qtype, criteria, n):
    times, results = [], 0
    for _ in range(n):
        t0 = time.perf_counter()
        rpl = client.command("chansrch", '<qib qtype="%s" criteria="%s"/>' % (qtype, criteria))
        times.append((time.perf_counter() - t0) * 1000)
        results = len(list(rpl.root.iter(Q + "chanib")))
    times.sort()
    return results, times


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--env", default=os.path.join(os.path.dirname(__file__), "..", "..",
                                                 "build", "lab", "lab.env"))
    p.add_argument("--rooms", type=int, default=100000)
    p.add_argument("--queries", type=int, default=200)
    args = p.parse_args()
    env = read_env(args.env)
    seed_rooms(env, args.rooms)
    client = ChatClient((env["PCHAT_SIP_HOST"], int(env["PCHAT_SIP_PORTS"].split()[0])),
                        "bench")
    client.login()
    print("%-42s %8s %8s %8s %8s" % ("query", "results", "median", "p95", "p99"))
    seq = args.rooms // 2 + 7  # a room that exists: named as seed_rooms() names them
    one = "%s %s %d" % (ADJECTIVES[seq % len(ADJECTIVES)],
                        NOUNS[(seq // len(ADJECTIVES)) % len(NOUNS)], seq)
    for qtype, criteria, what in (
            ("BYNAME", "", "list all (first search_limit by name)"),
            ("BYNAME", "de", "2 characters (index walk)"),
            ("BYNAME", "review", "common word (trigram)"),
            ("BYNAME", one, "one room (trigram)"),
            ("BYNAME", "zzzq", "no match (trigram)"),
            ("BYDESC", "room %d" % seq, "description (scan)"),
            ("BYMEMBER", "sip:bench@pchat.test", "rooms of a member")):
        n, times = time_queries(client, qtype, criteria, args.queries)
        print("%-42s %8d %7.1fms %7.1fms %7.1fms" % (
            what, n, statistics.median(times), times[int(len(times) * 0.95) - 1],
            times[int(len(times) * 0.99) - 1]))
    client.close()


if __name__ == "__main__":
    main()
