"""A short run of every mode of the benchmark load generator (tests/bench/load) against a lab,
so the benchmark suite cannot rot: it must build, speak to the module, and its verification must
hold (everything delivered once, in the room's order, and stored)."""
import json
import os
import subprocess

import pytest

from lab import TEST_DEFINES, start_lab

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LOAD_DIR = os.path.join(TOP, "tests", "bench", "load")


@pytest.fixture(scope="module")
def lab(request):
    """A lab whose limits per source address and per user rate do not throttle the generator:
    one socket speaks for thousands of users, as the benchmark lab allows too."""
    return start_lab(request, defines=TEST_DEFINES + " PCHAT_MAX_SESSIONS_PER_SOURCE=0 "
                     "PCHAT_USER_REQUEST_RATE=0")


@pytest.fixture(scope="module")
def load(lab, tmp_path_factory):
    """load(*args): runs pchat-load against the lab's first node; its JSON output."""
    subprocess.run(["make", "-s", "-C", LOAD_DIR], check=True)
    host, port = lab.sip_server(0)

    def run(*args):
        res = subprocess.run([os.path.join(LOAD_DIR, "pchat-load"), "--server",
                              "%s:%d" % (host, port)] + [str(a) for a in args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=120)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)
    return run


@pytest.fixture
def guids(lab, tmp_path):
    """guids(n): a file with the GUIDs of n fresh rooms, and their URIs."""
    def make(n):
        rooms = [lab.new_room("bench") for _ in range(n)]
        path = tmp_path / "rooms.guids"
        path.write_text("".join(r.rsplit("/", 1)[1] + "\n" for r in rooms))
        return str(path), rooms
    return make


def test_options_are_all_answered(load):
    out = load("--mode", "options", "--rates", "500,1000", "--step", 1)
    assert [s["passed"] for s in out["steps"]] == [True, True]
    for s in out["steps"]:
        assert s["acked"] == s["sent"] >= 0.9 * s["offered"]


def test_fanout_delivers_every_post_once_in_room_order(lab, load, guids):
    path, rooms = guids(2)
    out = load("--mode", "fanout", "--rooms", 2, "--members", 20, "--guids", path,
               "--rates", "10,20", "--step", 2, "--drain", 3)
    steps = out["steps"]
    assert [s["passed"] for s in steps] == [True, True]
    posts = sum(s["sent"] for s in steps)
    assert posts >= 50 and sum(s["acked"] for s in steps) == posts
    for s in steps:
        # every member of the room, author included, got every post of its step
        assert s["deliveries"] == s["expected"] == s["sent"] * 20
        assert s["duplicates"] == s["misordered"] == s["wrong_room"] == 0
    assert sum(len(lab.stored(r)) for r in rooms) == posts


def test_fanout_step_fails_over_its_latency_bound(load, guids):
    path, _ = guids(1)
    out = load("--mode", "fanout", "--rooms", 1, "--members", 5, "--guids", path,
               "--rates", "10,20", "--step", 1, "--max-p99", 0.001)
    # everything arrives, but no delivery on a real socket takes under a microsecond: the first
    # step fails and the generator stops there
    assert len(out["steps"]) == 1
    step = out["steps"][0]
    assert step["deliveries"] == step["expected"] > 0 and not step["passed"]


def test_login_storm_logs_in_fully(load, guids):
    path, _ = guids(3)
    out = load("--mode", "login", "--guids", path, "--rates", 20, "--step", 2)
    step = out["steps"][0]
    assert step["passed"] and step["acked"] >= 30 and out["login_failed"] == 0


def test_history_queries_get_their_messages(lab, load, guids, tmp_path):
    path, rooms = guids(1)
    load("--mode", "fanout", "--rooms", 1, "--members", 3, "--guids", path, "--rates", 30,
         "--step", 1)
    assert len(lab.stored(rooms[0])) >= 25
    queries = tmp_path / "history.queries"
    queries.write_text("bccontext\t<chanib uri=\"%s\"/><bcq><last cnt=\"25\"/></bcq>\n"
                       % rooms[0])
    out = load("--mode", "query", "--sessions", 4, "--queries", str(queries), "--duration", 2,
               "--expect", "<msg ", "--expect-count", 25)
    assert out["query_errors"] == 0 and out["steps"][0]["acked"] > 20


def test_sessions_are_held_and_counted(lab, load):
    out = load("--mode", "sessions", "--sessions", 200, "--login-rate", 200, "--hold", 1)
    assert out["logged_in"] == 200 and out["login_failed"] == 0


def test_soak_mode_checks_members_and_churners(lab, load, tmp_path):
    # rooms of 40 and 10 at their own rates, 30 churners joining 10 rooms a second, and every
    # session refreshing every 2 s
    rooms = [(lab.new_room("soak"), members, rate) for members, rate in ((40, 4), (10, 10))]
    path = tmp_path / "soak.guids"
    path.write_text("".join("%s %d %g\n" % (uri.rsplit("/", 1)[1], members, rate)
                            for uri, members, rate in rooms))
    out = load("--mode", "soak", "--sessions", 80, "--guids", str(path), "--duration", 4,
               "--churn-rate", 10, "--stay", 1, "--refresh", 2, "--drain", 3, "--max-p99", 5000)
    step, churn = out["steps"][0], out["churn"]
    assert step["passed"] and churn["passed"]
    assert step["sent"] == step["acked"] >= 50
    # every member got every post of its room, once, in the room's order
    assert step["deliveries"] == step["expected"] > 0
    assert step["duplicates"] == step["misordered"] == step["wrong_room"] == 0
    # the churners joined at the rate asked, parted again and got every post they were owed
    assert churn["churners"] == 30 and churn["joins"] == churn["parts"] >= 35
    assert churn["lost"] == churn["failed"] == churn["starved"] == churn["duplicates"] == 0
    assert churn["deliveries"] > 0
    assert out["refreshes"] >= 100 and out["refresh_failed"] == out["server_byes"] == 0
    assert sum(len(lab.stored(uri)) for uri, _, _ in rooms) == step["sent"]
