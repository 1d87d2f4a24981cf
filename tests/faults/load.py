"""A steady chat load through a pool's front end, and what a fault did to it.

Users log in through the front end (which spreads them over the nodes), join one room and post
one after the other, as clients do: after 503 they wait and post the same text again; when their
session is gone (481, or no answer within CLIENT_TIMEOUT) they log in again and join again. A
joiner joins and leaves a second room, and every user reads the backchat now and then. Every
outcome is recorded with its time, so a fault's effect can be measured against the store."""
import collections
import re
import threading
import time

from xccos import ChatClient, resp_code

CLIENT_TIMEOUT = 5.0   # s a client waits for an answer before it takes its session as lost
POST_INTERVAL = 0.1    # s between a user's posts
RETRY_AFTER_503 = 0.2  # s before the same post goes again (the lab's Retry-After is longer)


class User:
    def __init__(self, load, name):
        self.load, self.name = load, name
        self.client = None
        self.sent = []            # texts in the order they were first sent
        self.outcome = {}         # text -> "ok" | "unknown"
        self.refusals = []        # times of 503 answers
        self.cut_at = None        # when the session was found lost
        self.back_after = []      # s from the fault until the user was back in the room
        self.thread = threading.Thread(target=self.run, daemon=True)

    def connect(self):
        """Logs in through the front end and joins the room; retries until it works or the load
        stops. Returns True when in the room."""
        while not self.load.stopping.is_set():
            if self.client:
                self.client.stop.set()
                self.client.ua.close()
            self.client = ChatClient(self.load.front, self.name)
            try:
                self.client.login()
                if resp_code(self.client.join(self.load.room, timeout=CLIENT_TIMEOUT)) == 200:
                    return True
            except (AssertionError, OSError):
                pass
            time.sleep(0.3)
        return False

    def lost(self):
        self.cut_at = self.cut_at or time.time()
        if self.connect() and self.load.fault_at:
            self.back_after.append(time.time() - max(self.load.fault_at, 0))
        self.cut_at = None

    def post(self, text):
        """Posts text until it is answered 200 or its fate is unknown; False when the session
        is gone (the caller logs in again and the text is not sent again: it may be stored)."""
        while not self.load.stopping.is_set():
            resp = self.client.post(self.load.room, text, timeout=CLIENT_TIMEOUT)
            if resp is None:
                self.outcome[text] = "unknown"
                return False
            if resp.status == 200:
                self.outcome[text] = "ok"
                return True
            if resp.status == 503:
                self.refusals.append(time.time())
                time.sleep(RETRY_AFTER_503)
                continue
            self.outcome[text] = "unknown" if resp.status in (408, 500) else "refused"
            return False
        return True

    def run(self):
        if not self.connect():
            return
        self.load.ready.release()
        i = 0
        while not self.load.stopping.is_set():
            text = "%s %d" % (self.name, i)
            i += 1
            self.sent.append(text)
            if not self.post(text):
                self.lost()
                continue
            if i % 10 == 0:
                self.read_backchat()
            time.sleep(POST_INTERVAL)

    def read_backchat(self):
        try:
            self.client.backchat(self.load.room)
        except AssertionError:
            self.load.backchat_failures += 1


class Load:
    """Users posting in one room through front: start(), then inject a fault (fault_at set by
    mark_fault()), then stop() and measure()."""

    def __init__(self, lab, users=6, room=None):
        self.lab = lab
        self.front = lab.frontend
        self.room = room or lab.new_room("faults")
        self.stopping = threading.Event()
        self.ready = threading.Semaphore(0)
        self.fault_at = None
        self.backchat_failures = 0
        self.users = [User(self, name) for name in ("alice", "bob", "carol", "dave", "erin",
                                                    "frank", "grace", "heidi")[:users]]

    def start(self, timeout=30):
        for u in self.users:
            u.thread.start()
        for _ in self.users:
            if not self.ready.acquire(timeout=timeout):
                raise AssertionError("the users did not log in within %ss" % timeout)

    def mark_fault(self):
        self.fault_at = time.time()

    def all_in_room(self):
        return all(u.cut_at is None for u in self.users)

    def stop(self):
        self.stopping.set()
        for u in self.users:
            u.thread.join(timeout=CLIENT_TIMEOUT * 3)
        for u in self.users:
            if u.client:
                u.client.close()

    def measure(self, server=0):
        """What the fault did, read against the store (of Galera node server)."""
        rows = self.lab.stored(self.room, server=server)
        stored = collections.Counter(re.sub(r"^<chat>|</chat>$", "", r[2]) for r in rows)
        seq = {re.sub(r"^<chat>|</chat>$", "", r[2]): int(r[0]) for r in rows}
        acked = [t for u in self.users for t, o in u.outcome.items() if o == "ok"]
        refusals = sorted(t for u in self.users for t in u.refusals)
        out_of_order = 0
        for u in self.users:
            # an author's acknowledged posts keep the order they were sent in (one whose answer
            # never came may be stored late, by a node that was paused with it)
            mine = [seq[t] for t in u.sent if u.outcome.get(t) == "ok" and t in seq]
            out_of_order += sum(1 for a, b in zip(mine, mine[1:]) if b < a)
        numbers = sorted(seq.values())
        return {
            "acked": len(acked),
            "lost": sum(1 for t in acked if t not in stored),
            "duplicated": sum(n - 1 for n in stored.values() if n > 1),
            "out_of_order": out_of_order,
            "gaps": len(numbers) and numbers[-1] - len(numbers),
            "refused": len(refusals),
            "refused_for_s": round(refusals[-1] - refusals[0], 1) if refusals else 0.0,
            "unknown": sum(1 for u in self.users for o in u.outcome.values() if o == "unknown"),
            "cut": sum(1 for u in self.users if u.back_after),
            "back_within_s": round(max((b for u in self.users for b in u.back_after),
                                       default=0.0), 1),
            "backchat_failures": self.backchat_failures,
        }
