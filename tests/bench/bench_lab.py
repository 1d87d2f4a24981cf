"""What the benchmarks need around a lab: SQL as the lab's MariaDB root, bulk seeding of rooms
(room search) and of stored history (history retrieval), and the imc anchor, Kamailio's own
conferencing module run as a Kamailio of its own beside the lab.

    from bench_lab import sql, seed_rooms, seed_history, start_imc, stop_imc

Everything is SQL through the mariadb client or plain processes, like scripts/lab; nothing
beyond the Python standard library.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
IMC_CFG = os.path.join(HERE, "imc.cfg")
# db_text table files shipped with Debian's kamailio; imc needs its two tables and `version`.
DBTEXT_TABLES = "/usr/share/kamailio/dbtext/kamailio"
IMC_TABLES = ("version", "imc_rooms", "imc_members")
IMC_PKG_MB = 16

ADJECTIVES = ["red", "blue", "green", "quiet", "busy", "north", "south", "alpha", "beta",
              "gamma", "delta", "silver", "golden", "rapid", "calm", "bright", "dark", "early",
              "late", "open", "hidden", "global", "local", "senior", "junior"]
NOUNS = ["team", "project", "review", "support", "sales", "design", "release", "ops", "finance",
         "legal", "research", "market", "product", "launch", "planning", "security", "network",
         "data", "cloud", "mobile", "desk", "forum", "lounge", "hub", "board", "guild", "lab",
         "studio", "office", "squad", "circle", "channel"]

HISTORY_CATEGORY = "History"
# Rows per INSERT statement: big enough that per-statement costs (a client process, a commit
# and its log flush) vanish, small enough that an interrupted statement rolls back in seconds.
HISTORY_BATCH = 500_000
# Room ranges per statement, so that many small rooms still make a statement of sane length.
HISTORY_SEGMENTS = 1000
# Disk a stored post takes in the MariaDB data folder, with room to spare (measured: 10
# million posts grew the folder by 1.19 GB, 119 bytes a post, the system tablespace's undo log
# included).
HISTORY_BYTES_PER_POST = 200
HISTORY_USERS = 200


# ---------------------------------------------------------------- SQL

def sql(env, query):
    """Runs query (one or more statements) as MariaDB root in the lab's database; returns the
    output rows as one string, tab-separated columns."""
    return subprocess.run(["mariadb", "--no-defaults", "-S", env["PCHAT_MYSQL_SOCKET"], "-u",
                           "root", "--batch", "--skip-column-names", env["PCHAT_MYSQL_DB"], "-e",
                           query], stdout=subprocess.PIPE, text=True, check=True).stdout.strip()


def sql_rows(env, query):
    """The rows of a query's result as lists of strings."""
    out = sql(env, query)
    return [line.split("\t") for line in out.splitlines()] if out else []


# ---------------------------------------------------------------- rooms for room search

def seed_rooms(env, rooms):
    """Seeds rooms named "<adjective> <noun> <number>" in a category "Bench" that allows
    pchat.test, once (rooms already there are kept): 70 % open, 20 % closed, 10 % secret; the
    user sip:bench@pchat.test is a member of every 50th room."""
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
                 "SELECT UUID(), CONCAT(ELT(1 + seq %% %d, %s), ' ', "
                 "ELT(1 + (seq DIV %d) %% %d, %s), ' ', seq), CONCAT('bench room ', seq), c.id, CASE WHEN seq %% 10 = 0 THEN "
                 "'secret' WHEN seq %% 10 < 3 THEN 'closed' ELSE 'open' END "
                 "FROM seq_%d_to_%d JOIN pchat_category c ON c.name = 'Bench'"
                 % (len(ADJECTIVES), adj, len(ADJECTIVES), len(NOUNS), noun, start, end))
        print("  %d rooms seeded (%.0f s)" % (end, time.time() - started), flush=True)
    sql(env, "INSERT IGNORE INTO pchat_room_principal (room_id, role, principal) SELECT r.id, "
             "'member', 'sip:bench@pchat.test' FROM pchat_room r JOIN pchat_category c ON "
             "c.id = r.category_id WHERE c.name = 'Bench' AND r.id % 50 = 0")
    sql(env, "ANALYZE TABLE pchat_room, pchat_room_trigram, pchat_room_principal")
    print("seeded %d rooms in %.0f s" % (rooms, time.time() - started))


# ---------------------------------------------------------------- stored history

def seed_history(env, messages=10_000_000, rooms=1000):
    """Makes the first `rooms` rooms of the category "History" ("history 0001", ...; open,
    allowed to the lab's domain) hold exactly `messages` stored posts between them, spread
    evenly, numbered 1, 2, 3, ... per room, with pchat_room_sequence in step.

    Safe to call again: what is there already is kept, an interrupted run is continued, posts
    beyond the count (say, posted by a benchmark) are removed, and a room whose posts are not
    numbered 1..n is seeded anew. Rooms of the category beyond `rooms` are left alone.
    Returns {"rooms", "messages", "seconds", "inserted", "guids"}."""
    if rooms < 1 or messages < 0:
        raise ValueError("seed_history needs rooms >= 1 and messages >= 0")
    started = time.time()
    domain = env.get("PCHAT_DOMAIN", "pchat.test")
    room_list = _history_rooms(env, rooms, domain)
    targets = _history_targets(messages, rooms)
    state = _history_state(env)
    _history_repair(env, room_list, targets, state)
    segments = _history_segments(room_list, targets, state)
    missing = sum(last - first + 1 for _, _, first, last in segments)
    if missing:
        _check_disk(env, missing)
        print("seeding %d stored posts in %d rooms (%d there already)"
              % (missing, rooms, messages - missing), flush=True)
        _history_insert(env, segments, missing, domain)
    _history_sequences(env, room_list, targets)
    sql(env, "ANALYZE TABLE pchat_message, pchat_room_sequence")
    seconds = time.time() - started
    print("history: %d posts in %d rooms (%d inserted, %.0f s)"
          % (messages, rooms, missing, seconds), flush=True)
    return {"rooms": rooms, "messages": messages, "seconds": round(seconds, 1),
            "inserted": missing, "guids": [guid for _, guid in room_list]}


def _history_rooms(env, rooms, domain):
    """Creates the category and whichever of its rooms are missing; returns [(id, guid)] of
    rooms 1..rooms in order."""
    sql(env, "INSERT IGNORE INTO pchat_category (guid, name, description) VALUES (UUID(), "
             "'%s', 'stored history of the benchmarks');"
             "INSERT IGNORE INTO pchat_category_principal (category_id, role, principal) "
             "SELECT id, 'allowed', '%s' FROM pchat_category WHERE name = '%s';"
             % (HISTORY_CATEGORY, domain, HISTORY_CATEGORY))
    # INSERT IGNORE: rooms there already keep their ids and guids (the name is unique).
    # LPAD to at least 4 digits names them like "history %04d" without cutting longer numbers.
    sql(env, "INSERT IGNORE INTO pchat_room (guid, name, description, category_id, privacy) "
             "SELECT UUID(), CONCAT('history ', LPAD(seq, GREATEST(4, LENGTH(seq)), '0')), "
             "CONCAT('history benchmark room ', seq), c.id, 'open' FROM seq_1_to_%d "
             "JOIN pchat_category c ON c.name = '%s'" % (rooms, HISTORY_CATEGORY))
    by_name = {name: (int(rid), guid) for rid, guid, name in sql_rows(
        env, "SELECT r.id, r.guid, r.name FROM pchat_room r JOIN pchat_category c ON "
             "c.id = r.category_id WHERE c.name = '%s'" % HISTORY_CATEGORY)}
    names = ["history %04d" % i for i in range(1, rooms + 1)]
    lost = [n for n in names if n not in by_name]
    if lost:
        raise RuntimeError("rooms named %s exist outside the category %s; rename them first"
                           % (", ".join(lost[:5]), HISTORY_CATEGORY))
    return [by_name[n] for n in names]


def _history_targets(messages, rooms):
    """Posts per room: `messages` spread evenly, the first rooms taking one more."""
    base, extra = divmod(messages, rooms)
    return [base + (1 if i < extra else 0) for i in range(rooms)]


def _history_state(env):
    """{room id: (lowest seq, highest seq, posts)} of the category's rooms that have posts.
    The primary key (room_id, seq) answers this from the index alone."""
    rows = sql_rows(env, "SELECT m.room_id, MIN(m.seq), MAX(m.seq), COUNT(*) FROM pchat_message m "
                         "JOIN pchat_room r ON r.id = m.room_id JOIN pchat_category c ON "
                         "c.id = r.category_id WHERE c.name = '%s' GROUP BY m.room_id"
                         % HISTORY_CATEGORY)
    return {int(r[0]): (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def _history_repair(env, room_list, targets, state):
    """Empties rooms whose posts are not numbered 1..n (moderation cleared some, say) and cuts
    rooms holding more posts than their target; updates state to match."""
    statements = []
    for (rid, _), target in zip(room_list, targets):
        low, high, count = state.get(rid, (1, 0, 0))
        if count and (low != 1 or high != count):
            statements.append("DELETE FROM pchat_message WHERE room_id = %d" % rid)
            state.pop(rid)
        elif high > target:
            statements.append("DELETE FROM pchat_message WHERE room_id = %d AND seq > %d"
                              % (rid, target))
            state[rid] = (1, target, target) if target else (1, 0, 0)
    if statements:
        print("history: repairing %d rooms" % len(statements), flush=True)
        sql(env, ";\n".join(statements))


def _history_segments(room_list, targets, state):
    """The posts still missing, as (room index, room id, first seq, last seq) in key order."""
    segments = []
    for idx, ((rid, _), target) in enumerate(zip(room_list, targets), 1):
        have = state.get(rid, (1, 0, 0))[1]
        if have < target:
            segments.append((idx, rid, have + 1, target))
    return segments


def _history_batches(segments):
    """Splits the segments into statements of at most HISTORY_BATCH rows each."""
    batch, rows = [], 0
    for idx, rid, first, last in segments:
        while first <= last:
            take = min(last - first + 1, HISTORY_BATCH - rows)
            batch.append((idx, rid, first, first + take - 1))
            rows += take
            first += take
            if rows == HISTORY_BATCH or len(batch) == HISTORY_SEGMENTS:
                yield batch
                batch, rows = [], 0
    if batch:
        yield batch


def _history_select(idx, rid, first, last, domain):
    """The rows of one room's posts first..last. Everything derives from (room, seq), so a
    redone batch writes the same rows: authors among HISTORY_USERS users of the domain, a post
    every 30 seconds of 2024 (each room a little offset), a body numbered like the post."""
    return ("SELECT %d, seq, CONCAT('sip:hist', LPAD((seq * 31 + %d) %% %d, 3, '0'), '@%s'), "
            "'2024-01-01' + INTERVAL (seq * 30000000 + %d) MICROSECOND, "
            "CONCAT('<chat>history message ', seq, '</chat>') FROM seq_%d_to_%d"
            % (rid, idx * 7, HISTORY_USERS, domain, idx * 1000, first, last))


def _history_insert(env, segments, total, domain):
    """Inserts the missing posts in primary key order, a batch per statement (a transaction
    each, so an interruption loses at most the batch running)."""
    started, done = time.time(), 0
    for batch in _history_batches(segments):
        # Session settings only: the lab's durability stays as it is. The room ids were read
        # from pchat_room just now, so the foreign key lookup per row is redundant (measured,
        # it saves little: building and inserting the rows is what takes the time).
        sql(env, "SET SESSION foreign_key_checks = 0; SET SESSION unique_checks = 0; "
                 "INSERT INTO pchat_message (room_id, seq, author, ts, content) "
                 + " UNION ALL ".join(_history_select(*seg, domain) for seg in batch))
        done += sum(last - first + 1 for _, _, first, last in batch)
        elapsed = time.time() - started
        print("  %d of %d posts (%.0f s, %.0f rows/s)" % (done, total, elapsed,
                                                          done / max(elapsed, 0.001)), flush=True)


def _history_sequences(env, room_list, targets):
    """Sets each room's last_seq to its post count (a room without posts has no row)."""
    values = ",".join("(%d,%d)" % (rid, t) for (rid, _), t in zip(room_list, targets) if t)
    empty = ",".join(str(rid) for (rid, _), t in zip(room_list, targets) if not t)
    if values:
        sql(env, "INSERT INTO pchat_room_sequence (room_id, last_seq) VALUES %s "
                 "ON DUPLICATE KEY UPDATE last_seq = VALUES(last_seq)" % values)
    if empty:
        sql(env, "DELETE FROM pchat_room_sequence WHERE room_id IN (%s)" % empty)


def _check_disk(env, posts):
    """Refuses to seed when the MariaDB data folder's disk has less than twice the estimate."""
    datadir = sql(env, "SELECT @@datadir")
    st = os.statvfs(datadir)
    free = st.f_bavail * st.f_frsize
    need = posts * HISTORY_BYTES_PER_POST
    if free < 2 * need:
        raise RuntimeError("seeding %d posts needs about %.1f GB in %s, but its disk has only "
                           "%.1f GB free (twice the estimate is required); free some space or "
                           "seed fewer messages" % (posts, need / 1e9, datadir, free / 1e9))


# ---------------------------------------------------------------- the imc anchor

def kamailio_modules_dir():
    """The folder Debian's kamailio loads its modules from (scripts/common.sh knows how)."""
    out = subprocess.run(["bash", "-c", 'source "$1" && kamailio_modules_dir', "bash",
                          os.path.join(TOP, "scripts", "common.sh")],
                         stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    if not out:
        raise RuntimeError("cannot tell where kamailio's modules are (kamailio -h)")
    return out


def imc_dir(bench_dir):
    return os.path.join(os.path.abspath(bench_dir), "imc")


def start_imc(bench_dir, port, children, shm_mb, deliver_to):
    """Starts Kamailio with imc (tests/bench/imc.cfg) on UDP 127.0.0.1:port, every room message
    delivered to the SIP URI deliver_to (say sip:127.0.0.1:40000). Its folder is bench_dir/imc
    (log kamailio.log, pid file kamailio.pid, control socket ctl.sock); it starts with no
    rooms. An imc still running from that folder is stopped first. Returns {"pid", "port",
    "ctl", "log", "dir"}; raises RuntimeError when it does not come up."""
    folder = imc_dir(bench_dir)
    if _imc_pid(folder):
        print("an imc from %s is still running; restarting it" % folder)
        stop_imc(bench_dir)
    _require_free_udp(port)
    os.makedirs(os.path.join(folder, "run"), exist_ok=True)
    dbdir = _fresh_dbtext(os.path.join(folder, "dbtext"))
    ctl_path = os.path.join(folder, "ctl.sock")
    if len(ctl_path) >= 100:
        raise RuntimeError("socket path %s is too long for a unix socket; use a shorter "
                           "bench_dir" % ctl_path)
    if os.path.exists(ctl_path):
        os.remove(ctl_path)
    ctl = "unix:" + ctl_path
    log = os.path.join(folder, "kamailio.log")
    # the memory manager of the pchat lab (scripts/lab): the same engine on both sides
    manager = os.environ.get("PCHAT_LAB_MEM_MANAGER", "tlsf")
    cmd = ["kamailio", "-f", IMC_CFG, "-DD", "-E", "-m", str(shm_mb), "-M", str(IMC_PKG_MB),
           "-x", manager, "-X", manager,
           "-L", kamailio_modules_dir(), "-Y", os.path.join(folder, "run"),
           "-l", "udp:127.0.0.1:%d" % port,
           "-A", 'IMC_DB_URL="text://%s"' % dbdir, "-A", 'IMC_CTL="%s"' % ctl,
           "-A", 'IMC_DELIVER_TO="%s"' % deliver_to, "-A", "IMC_CHILDREN=%d" % children]
    with open(log, "ab") as out:
        # start_new_session: what setsid does in scripts/lab; Kamailio leads its own process
        # group, so stop_imc can end it and all its children together.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    with open(os.path.join(folder, "kamailio.pid"), "w") as f:
        f.write("%d\n" % proc.pid)
    _wait_imc(proc, ctl, log)
    return {"pid": proc.pid, "port": port, "ctl": ctl, "log": log, "dir": folder}


def stop_imc(bench_dir):
    """Stops the imc started from bench_dir (its whole process group; TERM, after 15 s KILL).
    Returns True when one was running."""
    folder = imc_dir(bench_dir)
    pid = _imc_pid(folder)
    if pid:
        _stop_group(pid)
    pid_file = os.path.join(folder, "kamailio.pid")
    if os.path.exists(pid_file):
        os.remove(pid_file)
    return pid is not None


def _fresh_dbtext(dbdir):
    """A db_text folder with empty imc tables: imc loads the rooms it finds at start and saves
    its rooms at shutdown, so every run starts from fresh copies."""
    os.makedirs(dbdir, exist_ok=True)
    for table in IMC_TABLES:
        shutil.copyfile(os.path.join(DBTEXT_TABLES, table), os.path.join(dbdir, table))
    return dbdir


def _require_free_udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        raise RuntimeError("UDP port %d is in use; choose another port for imc" % port)
    finally:
        s.close()


def _wait_imc(proc, ctl, log, limit=30):
    """Waits until the new Kamailio answers on its control socket."""
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("imc exited during start:\n%s" % _errors(log))
        res = subprocess.run(["kamcmd", "-s", ctl, "core.version"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        if res.returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("imc did not answer on %s within %d s (log: %s)" % (ctl, limit, log))


def _errors(log):
    with open(log, errors="replace") as f:
        lines = [line for line in f if "ERROR" in line or "CRITICAL" in line]
    return "".join(lines[-15:]) or "(no errors logged; see %s)" % log


def _imc_pid(folder):
    """The pid in folder's pid file when it still runs our Kamailio; a stale file is removed."""
    pid_file = os.path.join(folder, "kamailio.pid")
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return None
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            # its -Y run folder is inside ours: a recycled pid will not match
            if (folder + "/").encode() in f.read():
                return pid
    except OSError:
        pass
    os.remove(pid_file)
    return None


def processes():
    """(pid, fields of /proc/<pid>/stat after the command name) of every process; fields[0] is
    the state, [2] the process group, [11] and [12] user and system time in ticks."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                yield int(name), f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue


def group_pids(pgid):
    """The live processes (not zombies) of a process group."""
    return [pid for pid, fields in processes() if int(fields[2]) == pgid and fields[0] != "Z"]


def _stop_group(pgid, limit=15):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        if _group_gone(pgid, limit):
            return
        if sig == signal.SIGTERM:
            print("imc (process group %d) did not stop within %d s; killing it" % (pgid, limit))


def _group_gone(pgid, limit):
    deadline = time.time() + limit
    while time.time() < deadline:
        _reap(pgid)
        if not group_pids(pgid):
            return True
        time.sleep(0.1)
    return False


def _reap(pid):
    """Collects the exit status when this process started Kamailio, so no zombie is left."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
