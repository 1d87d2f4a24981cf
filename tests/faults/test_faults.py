"""Fault injection under load (make test-faults; the scenarios marked short also run in make test).

A 3-node pool with its front end carries a steady load (tests/faults/load.py: users posting in a
room, reading the backchat, a joiner), and one part of it fails: kill -9 and a restart, or a
SIGSTOP longer than the timeouts and a SIGCONT. For each scenario: acknowledged posts lost (must
be 0), stored twice (0), out of their author's order (0), gaps in the room's numbering (0), posts
refused with 503 and for how long, clients whose session was cut and how soon all were back in
the room, and the nodes' shared memory after recovery against before. The results go to
build/faults/results.json and a table (tests/faults/conftest.py prints it)."""
import os
import re
import signal
import subprocess
import time

import pytest

from lab import TEST_DEFINES, start_lab, wait_for
from load import Load

NODE_TIMEOUT = 3
RECOVERY_BOUND = 45   # s until every cut client is back in the room (measured: see README)
SHM_GROWTH_KB = 4096  # the nodes' shared memory after recovery, above before
DEFINES = TEST_DEFINES + (" PCHAT_NODE_TIMEOUT=%d PCHAT_GAP_TIMEOUT=500 PCHAT_CATCH_UP_INTERVAL=1"
                          " PCHAT_PRESENCE_SYNC_INTERVAL=5 PCHAT_DB_FAILBACK_INTERVAL=5"
                          % NODE_TIMEOUT)


@pytest.fixture(scope="module")
def single(request):
    """One MariaDB server, one Redis."""
    return start_lab(request, tag="faults1", nodes=3, defines=DEFINES)


@pytest.fixture(scope="module")
def ha(request):
    """A Galera cluster and Redis under Sentinel."""
    return start_lab(request, tag="faults-ha", nodes=3, db="galera", redis="sentinel",
                     defines=DEFINES)


def shm_used_kb(lab):
    total = 0
    for n in range(len(lab.sip_ports)):
        out = lab.kamcmd("core.shmmem", node=n, check=False)
        m = re.search(r"used: (\d+)", out)
        total += int(m.group(1)) // 1024 if m else 0
    return total


def pid_of(lab, part):
    with open(os.path.join(lab.dir, part)) as f:
        return int(f.read())


def redis_master_pidfile(lab):
    """The pid file of the Redis server that is master now."""
    for part, port in (("redis/redis.pid", lab.env["PCHAT_REDIS_PORT"]),
                       ("redis-replica/redis.pid", lab.env.get("PCHAT_REDIS_REPLICA_PORT"))):
        if port and "role:master" in subprocess.run(
                ["redis-cli", "-p", port, "INFO", "replication"], stdout=subprocess.PIPE,
                text=True).stdout:
            return part
    raise AssertionError("no Redis master")


# ---------------------------------------------------------------- the faults

def kill_node(lab):
    lab.kill_node(1)
    time.sleep(2)
    lab.up()


def kill_front_end(lab):
    os.killpg(pid_of(lab, "frontend/kamailio.pid"), signal.SIGKILL)
    time.sleep(2)
    lab.up()


def kill_database(lab):
    lab.kill_mysql(0)
    time.sleep(2)
    lab.up()


def kill_redis(lab):
    os.kill(pid_of(lab, redis_master_pidfile(lab)), signal.SIGKILL)
    time.sleep(2)
    lab.up()


def pause_node(lab):
    pgid = int(lab.env["PCHAT_NODE_PGIDS"].split()[1])
    os.killpg(pgid, signal.SIGSTOP)
    time.sleep(NODE_TIMEOUT + 4)
    os.killpg(pgid, signal.SIGCONT)


def pause_database(lab):
    os.kill(lab.mysql_pid(0), signal.SIGSTOP)
    time.sleep(10)  # beyond the lab's EVS inactive timeout (6 s): the others go on without it
    os.kill(lab.mysql_pid(0), signal.SIGCONT)
    # it finds itself left behind and joins again (incremental state transfer)
    assert wait_for(lambda: lab.run("status", check=False).stdout.count("synced, cluster of 3")
                    == 3, timeout=60)


SCENARIOS = [
    # (name, lab, fault, in make test)
    ("kill -9 a chat node", "single", kill_node, True),
    ("kill -9 the front end", "single", kill_front_end, False),
    ("kill -9 MariaDB (single server)", "single", kill_database, True),
    ("kill -9 Redis (alone)", "single", kill_redis, True),
    ("SIGSTOP a chat node 7 s", "single", pause_node, False),
    ("kill -9 a Galera node (the writer)", "ha", kill_database, False),
    ("SIGSTOP a Galera node (the writer) 10 s", "ha", pause_database, False),
    ("kill -9 the Redis master (Sentinel)", "ha", kill_redis, False),
]


@pytest.mark.parametrize("name,which,fault,short", [
    pytest.param(*s, marks=[pytest.mark.short] if s[3] else [], id=s[0]) for s in SCENARIOS])
def test_fault_under_load(request, results, name, which, fault, short):
    lab = request.getfixturevalue(which)
    load = Load(lab)
    load.start()
    shm_before = shm_used_kb(lab)
    time.sleep(3)
    load.mark_fault()
    fault(lab)
    recovered = wait_for(load.all_in_room, timeout=RECOVERY_BOUND, interval=0.2)
    time.sleep(3)  # the load goes on after recovery
    load.stop()
    # every node up and the posts relayed before the store is read
    lab.up()
    row = load.measure()
    row.update(scenario=name, lab=which, recovered=recovered,
               shm_growth_kb=shm_used_kb(lab) - shm_before)
    results.append(row)
    assert recovered, row
    assert row["acked"] > 50, row
    assert (row["lost"], row["duplicated"], row["out_of_order"], row["gaps"]) == (0, 0, 0, 0), row
    assert row["shm_growth_kb"] < SHM_GROWTH_KB, row
