"""The module's DocBook documentation covers every parameter, cfg function, RPC command and
statistic the module exports, and is well-formed XML."""
import os
import re
import xml.etree.ElementTree as ET

from lab import TOP

MOD = os.path.join(TOP, "modules", "pchat")
ADMIN = os.path.join(MOD, "doc", "pchat_admin.xml")


def source(*names):
    return "".join(open(os.path.join(MOD, n)).read() for n in names)


def exported(table, text):
    block = re.search(r"%s\[\]\s*=\s*\{(.*?)\n\};" % table, text, re.S).group(1)
    return set(re.findall(r'\{\s*"([^"]+)"', block))


def documented(kind):
    root = ET.parse(ADMIN).getroot()
    ids = {s.get("id") for s in root.iter("section") if s.get("id")}
    return {i.split(".", 2)[2] for i in ids if i.startswith("pchat.%s." % kind)}


def test_docs_are_well_formed():
    ET.parse(ADMIN)
    book = ET.parse(os.path.join(MOD, "doc", "pchat.xml")).getroot()
    assert any(el.get("href") == "pchat_admin.xml" for el in book.iter())


def test_every_parameter_is_documented():
    assert exported("params", source("pchat_mod.c")) == documented("p")


def test_every_function_is_documented():
    assert exported("cmds", source("pchat_mod.c")) == documented("f")


def test_every_kemi_function_is_documented():
    block = re.search(r"pchat_kemi_exports\[\]\s*=\s*\{(.*?)\n\};", source("pchat_mod.c"),
                      re.S).group(1)
    names = set(re.findall(r'str_init\("pchat"\), str_init\("(\w+)"\)', block))
    assert names == documented("k") and names >= {"pchat_handle", "pchat_provision"}


def test_every_rpc_command_is_documented():
    names = {n.split(".", 1)[1].replace(".", "_")
             for n in exported("pchat_rpc_cmds", source("pchat_rpc.c"))
             | exported("pchat_rpc_admin_cmds", source("pchat_rpc_admin.c"))
             | exported("pchat_rpc_web_cmds", source("pchat_rpc_web.c"))}
    assert names == documented("r")


def test_every_xccos_command_is_documented():
    block = re.search(r"\} commands\[\] = \{(.*?)\n\};", source("pchat_chat.c"), re.S).group(1)
    names = set(re.findall(r'\{"(\w+)", cmd_', block))
    assert names == documented("x")


def test_every_statistic_is_documented():
    assert exported("mod_stats", source("pchat_mod.c")) == documented("s")
