"""scripts/container-lab keeps the lab contract with containers (ARCHITECTURE.md, "The lab
contract"): the same lab.env keys and port layout, a pool that answers, and data that survives
down and up. Runs only with PCHAT_LAB_DRIVER=containers (make test-containers)."""
import os
import subprocess

import pytest

from lab import LAB, LAB_DRIVER, start_lab
from test_lab_contract import ENV_KEYS
from xccos import ChatClient, post_text, resp_code

pytestmark = pytest.mark.skipif(LAB_DRIVER != "containers",
                                reason="the container lab's own tests (PCHAT_LAB_DRIVER=containers)")


@pytest.fixture(scope="module")
def lab(request):
    return start_lab(request, nodes=2)


def test_env_has_the_contract_keys_and_layout(lab):
    assert [k for k in ENV_KEYS if k not in lab.env] == []
    base = lab.port_base
    assert lab.sip_ports == [base, base + 1]
    assert lab.https_ports == [base + 200, base + 201]
    assert lab.env["PCHAT_MYSQL_PORT"] == str(base + 100)
    assert lab.env["PCHAT_REDIS_PORT"] == str(base + 101)
    assert lab.env["PCHAT_FRONTEND_PORT"] == str(base + 102)
    assert lab.sip_tls_ports == [base + 300, base + 301]
    assert lab.env["PCHAT_FRONTEND_TLS_PORT"] == str(base + 103)
    assert oct(os.stat(os.path.join(lab.dir, "lab.env")).st_mode & 0o777) == "0o600"
    status = subprocess.run([LAB, "status", "--dir", lab.dir], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert status.returncode == 0, status.stdout
    assert "front  up" in status.stdout


def test_chat_through_the_front_end_reaches_both_nodes(lab):
    room = lab.new_room()
    a = ChatClient(lab.frontend, "alice")
    b = ChatClient(lab.sip_server(1), "bob")
    try:
        for c in (a, b):
            c.login()
            assert resp_code(c.join(room)) == 200
        assert a.post(room, "hello across containers").status == 200
        assert [post_text(e)[2] for e in b.wait_posts(1, timeout=10)] == ["hello across containers"]
    finally:
        a.close()
        b.close()


def test_data_survives_down_and_up(lab):
    room = lab.new_room("kept")
    a = ChatClient(lab.sip_server(0), "alice")
    try:
        a.login()
        assert resp_code(a.join(room)) == 200
        assert a.post(room, "still here after down and up").status == 200
        a.wait_posts(1)
    finally:
        a.close()
    assert lab.down().returncode == 0
    assert not os.path.exists(lab.ctl[0][len("unix:"):]) or subprocess.run(
        ["kamcmd", "-s", lab.ctl[0], "pchat.status"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL).returncode != 0
    lab.up()
    assert [row[2] for row in lab.stored(room)] == ["<chat>still here after down and up</chat>"]
