"""Authentication fails closed (kamailio-cfg/pchat-auth.cfg): a request is accepted only from a
trusted peer (the permissions address table), whose P-Asserted-Identity is the user and whose
P-Pchat-Flow names the client's connection, or with SIP digest credentials of the subscriber table
whose user is the From user; everything else gets 403. In a pool the front end authenticates the
clients and the nodes hear only the front end. A config without any mode refuses everything.

One lab per class (scripts/lab up --auth ...): trusted and digest on one node, digest and trusted
(an SBC before the front end) in a pool of two."""
import os
import re
import signal
import subprocess
import time

import pytest

from lab import TOP, port_free, read_env, start_lab
from sip import Dialog, UserAgent, md5, parse_challenge
from xccos import ChatClient, post_text, resp_code

def participants(lab, room, node=0):
    """The users in a room, as pchat.room.participants lists them."""
    out = lab.kamcmd("pchat.room.participants", room.rsplit("/", 1)[1], node=node)
    return sorted(re.findall(r"user: (\S+)", out))


def chat_as(lab, client, room, user):
    """The client's session is user's: it joins, posts, gets its post back as user's, and the
    stored post is user's."""
    assert resp_code(client.join(room)) == 200
    assert participants(lab, room) == [user]
    text = "written by %s %s" % (user, time.time())
    assert client.post(room, text).status == 200
    echo = client.wait_posts(1)
    assert echo, "no echo of the post"
    assert post_text(echo[0])[1:3] == (user, text)
    assert lab.stored(room)[-1][1:] == [user, "<chat>%s</chat>" % text]


class TestTrustedNode:
    """One node, --auth trusted: it hears only its trusted peer, 127.0.0.2 (a test playing the
    front end or an SBC), and takes the user from that peer's P-Asserted-Identity."""

    @pytest.fixture(scope="class")
    def lab(self, request):
        return start_lab(request, tag="trusted", auth="trusted")

    def peer(self, lab, user="frontend", proto="udp", identity=None, flow=None):
        headers = []
        if identity:
            headers.append(("P-Asserted-Identity", "<%s>" % identity))
        if flow:
            headers.append(("P-Pchat-Flow", flow))
        return ChatClient(lab.sip_server(), user, proto=proto,
                          local_host=lab.env["PCHAT_TRUSTED_PEER"], extra_headers=headers)

    def test_lab_names_its_trusted_peer_and_the_node_its_mode(self, lab):
        assert lab.env["PCHAT_AUTH"] == "trusted"
        assert lab.env["PCHAT_TRUSTED_PEER"] == "127.0.0.2"
        assert lab.sql("SELECT grp, ip_addr FROM address ORDER BY grp") == [
            ["1", "127.0.0.2"], ["2", "127.0.0.3"]]
        assert "pchat: authentication: trusted peers of address table group 1" in lab.log()
        assert "PCHAT_AUTH_LOOPBACK" not in lab.log()

    @pytest.mark.parametrize("proto", ["udp", "tcp"])
    def test_invite_from_a_client_is_refused(self, lab, proto):
        c = ChatClient(lab.sip_server(), "alice", proto=proto)
        try:
            c.login(expect=403)
        finally:
            c.close()
        assert re.search(r"NOTICE: .*pchat: INVITE from 127\.0\.0\.1:\d+ \(%s\) refused with 403: "
                         r"not from a trusted peer" % proto, lab.log())

    @pytest.mark.parametrize("proto", ["udp", "tcp"])
    def test_trusted_peer_asserts_who_the_user_is(self, lab, proto):
        c = self.peer(lab, proto=proto, identity="sip:carol@pchat.test")
        try:
            c.login()
            chat_as(lab, c, lab.new_room(), "sip:carol@pchat.test")
        finally:
            c.close()

    def test_trusted_peer_without_an_asserted_identity_opens_no_session(self, lab):
        c = self.peer(lab)
        try:
            c.login(expect=403)
        finally:
            c.close()

    def test_trusted_peer_names_the_clients_connection(self, lab):
        """The node binds the session to the P-Pchat-Flow of its trusted peer: the same peer
        naming another client connection is refused (481)."""
        c = self.peer(lab, identity="sip:alice@pchat.test", flow="tcp:192.0.2.7:50123:17")
        try:
            c.login()
            assert resp_code(c.command("requri")) == 200
            c.ua.extra_headers[1] = ("P-Pchat-Flow", "tcp:192.0.2.8:50123:18")
            _, resp = c.send_command("requri")
            assert resp is not None and resp.status == 481
            assert "connected elsewhere" in lab.log()
            c.ua.extra_headers[1] = ("P-Pchat-Flow", "tcp:192.0.2.7:50123:17")
            assert resp_code(c.command("requri")) == 200
        finally:
            c.close()

    def test_requests_inside_a_session_from_a_client_are_refused(self, lab):
        """Trusted peers only: a client that knows a session's Call-ID and tags gets 403."""
        victim = self.peer(lab, identity="sip:bob@pchat.test")
        thief = UserAgent("mallory", "pchat.test", lab.sip_server())
        try:
            victim.login()
            d = Dialog(thief, victim.dialog.target_uri)
            d.call_id, d.local_tag = victim.dialog.call_id, victim.dialog.local_tag
            d.remote_tag, d.remote_target = victim.dialog.remote_tag, victim.dialog.remote_target
            d.cseq = 100
            assert d.bye().status == 403
            assert resp_code(victim.command("requri")) == 200
        finally:
            thief.close()
            victim.close()

    def test_provisioning_only_through_the_trusted_peer(self, lab):
        client = UserAgent("alice", "pchat.test", lab.sip_server())
        peer = UserAgent("alice", "pchat.test", lab.sip_server(),
                         local_host=lab.env["PCHAT_TRUSTED_PEER"],
                         extra_headers=[("P-Asserted-Identity", "<sip:alice@pchat.test>")])
        try:
            assert client.provisioning().status == 403
            resp = peer.provisioning()
            assert resp.status == 200 and lab.env["PCHAT_POOL_URI"] in resp.text
        finally:
            client.close()
            peer.close()

    def test_without_any_mode_everything_is_refused(self, lab, tmp_path):
        """The lab's config started without an authentication define: every request gets 403
        and the log says at start that no mode is enabled."""
        port = next(p for p in range(lab.port_base + 30, lab.port_base + 99) if port_free(p))
        mods = subprocess.run(["kamailio", "-h"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True).stdout
        mods = re.search(r"-L path.*default: (.*)\)", mods).group(1)
        env = lab.env
        db = "mysql://%s:%s@127.0.0.1:%s/%s" % (env["PCHAT_MYSQL_USER"], env["PCHAT_MYSQL_PASSWORD"],
                                                env["PCHAT_MYSQL_PORT"], env["PCHAT_MYSQL_DB"])
        log = tmp_path / "kamailio.log"
        defines = {"PCHAT_DB_URL": db, "PCHAT_NODE_ID": "nomode", "PCHAT_CTL": "unix:%s/ctl" % tmp_path,
                   "PCHAT_REDIS_URL": "redis://127.0.0.1:%s/1" % env["PCHAT_REDIS_PORT"]}
        cmd = ["kamailio", "-f", os.path.join(TOP, "kamailio-cfg", "kamailio.cfg"), "-DD", "-E",
               "-m", "64", "-M", "8", "-L", "%s:%s" % (mods, os.path.join(TOP, "build", "modules")),
               "-Y", str(tmp_path), "-l", "udp:127.0.0.1:%d" % port, "-A", "PCHAT_CHILDREN=1"]
        for name, value in defines.items():
            cmd += ["-A", '%s="%s"' % (name, value)]
        with open(log, "w") as out:
            node = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        ua = UserAgent("alice", "pchat.test", ("127.0.0.1", port))
        try:
            deadline = time.time() + 30
            resp = None
            while resp is None and time.time() < deadline:
                assert node.poll() is None, log.read_text()
                resp = ua.simple("OPTIONS", timeout=0.5)
            assert resp is not None and resp.status == 403, log.read_text()
            assert Dialog(ua, env["PCHAT_POOL_URI"]).invite().status == 403
            assert ua.provisioning().status == 403
            assert ua.simple("REGISTER", "sip:pchat.test").status == 403
            text = log.read_text()
            assert re.search(r"ERROR: .*pchat: NO AUTHENTICATION MODE IS ENABLED", text), text
            assert "refused with 403: no authentication mode is enabled" in text
        finally:
            ua.close()
            os.killpg(node.pid, signal.SIGTERM)
            node.wait(timeout=15)


class TestDigestNode:
    """One node, --auth digest: the demo users' passwords (lab.env) in the subscriber table."""

    @pytest.fixture(scope="class")
    def lab(self, request):
        return start_lab(request, tag="digest", auth="digest")

    def test_demo_users_have_digest_credentials(self, lab):
        passwords = lab.passwords
        assert sorted(passwords) == ["alice", "bob", "carol"]
        assert len(set(passwords.values())) == 3
        assert lab.env["PCHAT_AUTH"] == "digest" and lab.env["PCHAT_TRUSTED_PEER"] == ""
        rows = lab.sql("SELECT username, domain, password, ha1, ha1b FROM subscriber")
        assert sorted(r[0] for r in rows) == ["alice", "bob", "carol"]
        for user, domain, password, ha1, ha1b in rows:
            assert (domain, password) == ("pchat.test", "")  # no clear-text password kept
            assert ha1 == md5("%s:pchat.test:%s" % (user, passwords[user]))
            assert ha1b == md5("%s@pchat.test:pchat.test:%s" % (user, passwords[user]))
        assert "pchat: authentication: digest against table subscriber, realm pchat.test" \
            in lab.log()

    def test_migration_003_is_kamailios_schema_and_can_run_again(self, lab):
        versions = dict(lab.sql("SELECT table_name, table_version FROM version"))
        assert (versions["subscriber"], versions["address"]) == ("7", "6")
        assert int(versions["pchat_schema"]) >= 3
        with open(os.path.join(TOP, "db", "mysql", "003-authentication.sql")) as f:
            subprocess.run(["mariadb", "--no-defaults", "-S", lab.env["PCHAT_MYSQL_SOCKET"], "-u",
                            "root", lab.env["PCHAT_MYSQL_DB"]], stdin=f, check=True)
        assert dict(lab.sql("SELECT table_name, table_version FROM version")) == versions
        columns = lab.sql("SELECT column_name FROM information_schema.columns WHERE table_schema "
                          "= DATABASE() AND table_name = 'address' ORDER BY ordinal_position")
        assert [c[0] for c in columns] == ["id", "grp", "ip_addr", "mask", "port", "tag"]

    @pytest.mark.parametrize("proto", ["udp", "tcp"])
    def test_invite_without_credentials_is_challenged(self, lab, proto):
        c = ChatClient(lab.sip_server(), "alice", proto=proto)
        try:
            resp = c.login(expect=401)
            challenge = parse_challenge(resp.get("www-authenticate"))
            assert challenge["scheme"] == "Digest"
            assert challenge["realm"] == "pchat.test"
            assert "auth" in challenge["qop"].split(",")
        finally:
            c.close()

    @pytest.mark.parametrize("proto", ["udp", "tcp"])
    def test_right_password_chats_as_the_authenticated_user(self, lab, proto):
        c = ChatClient(lab.sip_server(), "bob", proto=proto, password=lab.passwords["bob"])
        try:
            c.login()
            assert [r.status for r in c.ua.challenges] == [401]
            chat_as(lab, c, lab.new_room(), "sip:bob@pchat.test")
        finally:
            c.close()

    def test_wrong_password_is_refused(self, lab):
        c = ChatClient(lab.sip_server(), "alice", password="not-the-password")
        try:
            resp = c.login(expect=401)
            assert c.ua.challenges and resp.status == 401
        finally:
            c.close()
        assert re.search(r"NOTICE: .*pchat: INVITE from 127\.0\.0\.1:\d+: digest authentication of "
                         r"'alice' failed", lab.log())

    def test_credentials_of_another_user_are_refused(self, lab):
        """alice's From with bob's (right) credentials: 403."""
        c = ChatClient(lab.sip_server(), "alice", password=lab.passwords["bob"], auth_user="bob")
        try:
            c.login(expect=403)
        finally:
            c.close()
        assert "refused with 403: authenticated as bob, which is not the From" in lab.log()

    def test_asserted_identity_from_a_client_is_ignored(self, lab):
        c = ChatClient(lab.sip_server(), "carol", password=lab.passwords["carol"],
                       extra_headers=[("P-Asserted-Identity", "<sip:alice@pchat.test>")])
        try:
            c.login()
            chat_as(lab, c, lab.new_room(), "sip:carol@pchat.test")
        finally:
            c.close()

    def test_provisioning_subscribe_is_challenged(self, lab):
        ua = UserAgent("carol", "pchat.test", lab.sip_server(), "tcp")
        try:
            resp = ua.provisioning()
            assert resp.status == 401 and lab.env["PCHAT_POOL_URI"] not in resp.text
            ua.password = lab.passwords["carol"]
            resp = ua.provisioning()
            assert resp.status == 200 and lab.env["PCHAT_POOL_URI"] in resp.text
        finally:
            ua.close()

    def test_mode_and_secrets_survive_up_and_a_restart(self, lab):
        """--auth is remembered like --nodes; the passwords and the RPC token are kept."""
        before = dict(lab.env)
        res = lab.run("up", check=False)  # no --auth
        assert res.returncode == 0 and "starting" not in res.stdout, res.stdout
        assert read_env(os.path.join(lab.dir, "lab.env"))["PCHAT_AUTH"] == "digest"
        assert lab.run("down", check=False).returncode == 0
        res = lab.run("up", check=False)
        assert res.returncode == 0, res.stdout
        lab.env = read_env(os.path.join(lab.dir, "lab.env"))
        for key in ("PCHAT_AUTH", "PCHAT_DEMO_PASSWORDS", "PCHAT_RPC_TOKEN"):
            assert lab.env[key] == before[key], key
        for name in ("lab.conf", "lab.env"):
            assert oct(os.stat(os.path.join(lab.dir, name)).st_mode & 0o777) == "0o600", name
        c = ChatClient(lab.sip_server(), "alice", password=lab.passwords["alice"])
        try:
            c.login()
        finally:
            c.close()


class TestDigestPool:
    """Two nodes, --auth digest: the front end challenges the clients and asserts their identity
    to the nodes, which hear only the front end (127.0.0.2)."""

    @pytest.fixture(scope="class")
    def lab(self, request):
        return start_lab(request, tag="digestpool", nodes=2, auth="digest")

    def test_front_end_authenticates_and_nodes_trust_it(self, lab):
        assert "realm pchat.test" in lab.log("frontend")
        for node in (0, 1):
            log = lab.log(node).replace(lab.dir, "LAB")  # the folder's name says digestpool
            assert "pchat: authentication: trusted peers of address table group 1" in log
            assert "digest" not in log and "PCHAT_AUTH_LOOPBACK" not in log

    @pytest.mark.parametrize("proto", ["udp", "tcp"])
    def test_client_authenticated_at_the_front_end_chats_on_a_node(self, lab, proto):
        room = lab.new_room()
        c = ChatClient(lab.frontend, "alice", proto=proto, password=lab.passwords["alice"])
        try:
            c.login()
            assert [r.status for r in c.ua.challenges] == [401]
            assert parse_challenge(c.ua.challenges[0].get("www-authenticate"))["realm"] == \
                "pchat.test"
            chat_as(lab, c, room, "sip:alice@pchat.test")
            out = lab.kamcmd("pchat.room.participants", room.rsplit("/", 1)[1])
            assert re.search(r"node: node[12]", out), out
        finally:
            c.close()

    def test_client_without_credentials_is_challenged_by_the_front_end(self, lab):
        c = ChatClient(lab.frontend, "bob")
        try:
            c.login(expect=401)
        finally:
            c.close()

    def test_asserted_identity_from_a_client_does_not_pass_the_front_end(self, lab):
        c = ChatClient(lab.frontend, "carol", proto="tcp", password=lab.passwords["carol"],
                       extra_headers=[("P-Asserted-Identity", "<sip:alice@pchat.test>"),
                                      ("P-Pchat-Flow", "udp:127.0.0.1:1")])
        try:
            c.login()
            chat_as(lab, c, lab.new_room(), "sip:carol@pchat.test")
        finally:
            c.close()

    def test_front_end_follows_a_clients_route_only_to_its_nodes(self, lab):
        """Requests inside a dialog are not challenged and carry the route the client wrote: one
        that leads past the front end to anywhere but a node must not be relayed there."""
        host, port = lab.frontend
        ua = UserAgent("mallory", "pchat.test", lab.frontend, "udp")
        try:
            resp = ua.request("OPTIONS", "sip:victim@127.0.0.1:9", [
                ("Max-Forwards", "70"), ("From", "<sip:mallory@pchat.test>;tag=m1"),
                ("To", "<sip:victim@127.0.0.1>;tag=v1"), ("Call-ID", "relay-" + str(port)),
                ("CSeq", "1 OPTIONS"), ("Route", "<sip:%s:%d;lr>" % (host, port)),
                ("Route", "<sip:127.0.0.1:9;lr>")])
            assert resp is not None and resp.status == 403, resp
        finally:
            ua.close()
        assert re.search(r"OPTIONS from 127\.0\.0\.1:\d+ refused: its route leads to "
                         r"sip:127\.0\.0\.1:9;lr, not to a node of the pool", lab.log("frontend"))

    @pytest.mark.parametrize("node", [0, 1])
    def test_client_connecting_to_a_node_directly_is_refused(self, lab, node):
        c = ChatClient(lab.sip_server(node), "alice", password=lab.passwords["alice"],
                       extra_headers=[("P-Asserted-Identity", "<sip:alice@pchat.test>")])
        try:
            c.login(expect=403)
            assert c.ua.challenges == []  # the nodes do not even offer digest
        finally:
            c.close()
        assert re.search(r"INVITE from 127\.0\.0\.1:\d+ \(udp\) refused with 403: not from a "
                         r"trusted peer", lab.log(node))


class TestTrustedPool:
    """Two nodes, --auth trusted: the front end trusts an SBC (127.0.0.3) and passes its asserted
    identity on to the nodes; it refuses everybody else."""

    @pytest.fixture(scope="class")
    def lab(self, request):
        return start_lab(request, tag="trustedpool", nodes=2, auth="trusted")

    @pytest.mark.parametrize("proto", ["udp", "tcp"])
    def test_sbc_asserts_users_through_the_front_end(self, lab, proto):
        assert lab.env["PCHAT_TRUSTED_PEER"] == "127.0.0.3"
        c = ChatClient(lab.frontend, "sbc", proto=proto, local_host=lab.env["PCHAT_TRUSTED_PEER"],
                       extra_headers=[("P-Asserted-Identity", "<sip:bob@pchat.test>")])
        try:
            c.login()
            chat_as(lab, c, lab.new_room(), "sip:bob@pchat.test")
        finally:
            c.close()

    def test_sbc_says_where_each_client_is_connected(self, lab):
        """Clients behind one SBC connection are told apart by the flow the SBC asserts
        (P-Pchat-Flow): a request of alice's session that the SBC says comes from another of
        its clients gets 481."""
        flow = ("P-Pchat-Flow", "tls:10.0.0.7:50123:1")
        c = ChatClient(lab.frontend, "sbc", local_host=lab.env["PCHAT_TRUSTED_PEER"],
                       extra_headers=[("P-Asserted-Identity", "<sip:alice@pchat.test>"), flow])
        try:
            c.login()
            assert resp_code(c.command("requri")) == 200
            c.ua.extra_headers.remove(flow)
            c.ua.extra_headers.append(("P-Pchat-Flow", "tls:10.0.0.8:40000:2"))
            envid, resp = c.send_command("requri")
            assert resp is not None and resp.status == 481
        finally:
            c.ua.extra_headers[-1] = flow
            c.close()

    def test_client_at_the_front_end_is_refused(self, lab):
        c = ChatClient(lab.frontend, "bob", extra_headers=[
            ("P-Asserted-Identity", "<sip:bob@pchat.test>")])
        try:
            c.login(expect=403)
        finally:
            c.close()
        assert "refused with 403: not from a trusted peer" in lab.log("frontend")
