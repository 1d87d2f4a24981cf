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
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from lab import read_env  # noqa: E402
from xccos import Q, ChatClient  # noqa: E402

ADJECTIVES = ["red", "blue", "green", "quiet", "busy", "north", "south", "alpha", "beta",
              "gamma", "delta", "silver", "golden", "rapid", "calm", "bright", "dark", "early",
              "late", "open", "hidden", "global", "local", "senior", "junior"]
NOUNS = ["team", "project", "review", "support", "sales", "design", "release", "ops", "finance",
         "legal", "research", "market", "product", "launch", "planning", "security", "network",
         "data", "cloud", "mobile", "desk", "forum", "lounge", "hub", "board", "guild", "lab",
         "studio", "office", "squad", "circle", "channel"]


def sql(env, query):
    return subprocess.run(["mariadb", "--no-defaults", "-S", env["PCHAT_MYSQL_SOCKET"], "-u",
                           "root", "--batch", "--skip-column-names", env["PCHAT_MYSQL_DB"], "-e",
                           query], stdout=subprocess.PIPE, text=True, check=True).stdout.strip()


def seed(env, rooms):
    have = int(sql(env, "SELECT COUNT(*) FROM pchat_room r JOIN pchat_category c ON "
                        "c.id = r.category_id WHERE c.name = 'Bench'") or 0)
    if have >= rooms:
        print("%d bench rooms are there already" % have)
        return
    started = time.time()
    adj = ",".join("'%s'" % a for a in ADJECTIVES)
    noun = ",".join("'%s'" % n for n in NOUNS)
    sql(env, "INSERT IGNORE INTO pchat_category (guid, name, description) VALUES "
             "(UUID(), 'Bench', 'rooms of the search benchmark');"
             "INSERT IGNORE INTO pchat_category_principal (category_id, role, principal) "
             "SELECT id, 'allowed', 'pchat.test' FROM pchat_category WHERE name = 'Bench';")
    # one statement per 10,000 rooms keeps each transaction (and the trigram triggers) small
    for start in range(have + 1, rooms + 1, 10000):
        end = min(start + 9999, rooms)
        sql(env, "INSERT INTO pchat_room (guid, name, description, category_id, privacy) "
                 "SELECT UUID(), CONCAT(ELT(1 + seq %% %d, %s), ' ', ELT(1 + (seq DIV %d) %% %d, %s), "
                 "' ', seq), CONCAT('bench room ', seq), c.id, CASE WHEN seq %% 10 = 0 THEN "
                 "'secret' WHEN seq %% 10 < 3 THEN 'closed' ELSE 'open' END "
                 "FROM seq_%d_to_%d JOIN pchat_category c ON c.name = 'Bench'"
                 % (len(ADJECTIVES), adj, len(ADJECTIVES), len(NOUNS), noun, start, end))
        print("  %d rooms seeded (%.0f s)" % (end, time.time() - started), flush=True)
    sql(env, "INSERT IGNORE INTO pchat_room_principal (room_id, role, principal) SELECT r.id, "
             "'member', 'sip:bench@pchat.test' FROM pchat_room r JOIN pchat_category c ON "
             "c.id = r.category_id WHERE c.name = 'Bench' AND r.id % 50 = 0")
    sql(env, "ANALYZE TABLE pchat_room, pchat_room_trigram, pchat_room_principal")
    print("seeded %d rooms in %.0f s" % (rooms, time.time() - started))


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
    seed(env, args.rooms)
    client = ChatClient((env["PCHAT_SIP_HOST"], int(env["PCHAT_SIP_PORTS"].split()[0])),
                        "bench")
    client.login()
    print("%-42s %8s %8s %8s %8s" % ("query", "results", "median", "p95", "p99"))
    seq = args.rooms // 2 + 7  # a room that exists: named as seed() names them
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
