"""The room-management page (/PersistentChat/RM/) in a real browser against one lab, with the chat
over SIP checking what the page did: alice (a creator in "Lab") sees her rooms, creates a room
(the name checked while typing) that bob finds by search and joins while carol, not a member,
cannot; she edits it and clients see the new description; bob cannot edit (the page refuses, the
API answers 403 even with his CSRF token); a stale edit is refused without overwriting; carol
moderates a message that clients then see replaced; hostile names show as text and run nothing;
the page works with the keyboard alone and fits a phone. Screenshots (build/test-logs/browser/):
my-rooms, create-room, edit-room, stale-edit, moderation, admin-categories, admin-pool,
my-rooms-phone; my-rooms and edit-room are also the README's (see README.md here)."""
import re
import uuid

from xccos import Q, esc, resp_code

REMOVED = "This message was removed by a moderator."
README_VIEWPORT = (1280, 800)   # the README's screenshots: no larger
PHONE_VIEWPORT = (390, 844)
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_DESCRIPTION = "<script>alert(2)</script>"


def sip(lab, user):
    return "sip:%s@%s" % (user, lab.env["PCHAT_DOMAIN"])


def tag():
    return uuid.uuid4().hex[:6]


# ---- the page

def show(browser, lab, route, ready):
    """Loads the page at route (e.g. "#/rooms") and waits for the element ready."""
    browser.goto(lab.env["PCHAT_WEB_URL"] + route)
    browser.wait(ready)


def sign_in(browser, lab, user, route="#/rooms", ready="#rooms-managed"):
    """Signs user in on the page, which then shows route; waits for the element ready there."""
    show(browser, lab, route, "#login-form")
    browser.fill("#login-user", user)
    browser.fill("#login-password", lab.passwords[user])
    browser.click("#login-submit")
    assert browser.wait_text("#user-name", sip(lab, user)) == sip(lab, user)
    browser.wait(ready)


def fill_room(browser, name=None, description=None, privacy=None, members=None):
    """Fills the fields of the room form that are given."""
    for selector, value in (("#room-name", name), ("#room-description", description),
                            ("#room-members", members)):
        if value is not None:
            browser.fill(selector, value)
    if privacy:
        browser.check("#room-privacy-" + privacy)


def name_status(browser, text):
    """Waits for the name check to say text; what it says."""
    return browser.wait_text("#room-name-status", text)


def create_on_page(browser, shot=None, **room):
    """Creates a room on the form the page shows (#/rooms/new): fields as fill_room; its GUID.
    shot: a screenshot of the filled form before it is sent."""
    fill_room(browser, **room)
    name_status(browser, "This name is available.")
    if shot:
        browser.screenshot(shot)
    browser.click("#room-save")
    browser.wait_text("#status", "Room “%s” created." % room["name"])
    m = re.search(r"#/rooms/([0-9a-f-]{36})$", browser.url())
    assert m, browser.url()
    browser.wait("#room-form")
    return m.group(1)


def assert_fits(browser, width):
    """The page is width wide and nothing makes it scroll sideways."""
    scroll, inner = browser.evaluate(
        "() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert inner == width and scroll <= inner, (scroll, inner)


def tab_to(browser, element_id, limit=15):
    """Presses Tab until the element with the id has the focus (at most limit times)."""
    for _ in range(limit):
        browser.press("Tab")
        if browser.evaluate("() => document.activeElement && document.activeElement.id") == \
                element_id:
            return
    raise AssertionError("#%s not reached with %d Tabs" % (element_id, limit))


# ---- the lab's side: RPC and the chat

def rpc(lab, method, *params):
    return lab.jsonrpc(method, *params)["result"]


def room_now(lab, guid):
    """The room as pchat.room.get shows it."""
    return rpc(lab, "pchat.room.get", guid)


def rpc_room(lab, name, privacy="open", members=("bob",)):
    """A room made over RPC: alice manages it, members are in it; its GUID."""
    got = rpc(lab, "pchat.room.add", name, "Lab", "privacy=" + privacy,
              "description=Made for a test")
    rpc(lab, "pchat.room.managers.add", name, sip(lab, "alice"))
    if members:
        rpc(lab, "pchat.room.members.add", name, *[sip(lab, u) for u in members])
    return got["guid"]


def room_uri(lab, guid):
    return "ma-chan://%s/%s" % (lab.env["PCHAT_DOMAIN"], guid)


def search(client, text):
    """What a chat client's search by name finds: {uri: the chanib's attributes}."""
    rpl = client.command("chansrch", '<qib qtype="BYNAME" criteria="%s" extended="false"/>'
                         % esc(text))
    assert resp_code(rpl) == 200, rpl.info.text
    return {ch.get("uri"): ch.attrib for ch in rpl.root.iter(Q + "chanib")}


def chat_texts(client, uri, count=5):
    _, msgs = client.backchat(uri, count)
    return [m.find(Q + "chat").text for m in msgs]


# ---- the tests

def test_my_rooms_lists_the_rooms_alice_manages(lab, browser):
    browser.viewport(*README_VIEWPORT)
    sign_in(browser, lab, "alice")
    assert browser.text("#page-title") == "My rooms"
    managed = lab.sql("SELECT r.name FROM pchat_room r JOIN pchat_room_principal p ON "
                      "p.room_id = r.id WHERE p.role = 'manager' AND p.principal = '%s' "
                      "ORDER BY r.name" % sip(lab, "alice"))
    shown = browser.texts("#rooms-managed td.room-name")
    assert shown == [r[0] for r in managed]
    assert {"Lobby", "Engineering", "Board", "Announcements"} <= set(shown)
    # each managed room links to its form; alice is a member of Town Hall, not its manager
    assert browser.count("#rooms-managed a.room-link") == len(shown)
    assert "Town Hall" in browser.texts("#rooms-member td.room-name")
    assert browser.count("#rooms-create") == 1
    browser.screenshot("my-rooms", full=False)


def test_create_a_room_that_bob_finds_in_the_chat(lab, browser, clients):
    name = "Design reviews " + tag()
    sign_in(browser, lab, "alice")
    browser.click("#rooms-create")
    browser.wait("#room-form")
    # the name is checked while typing: free, then taken in another case
    fill_room(browser, name=name)
    assert name_status(browser, "available") == "This name is available."
    fill_room(browser, name="eNGINEERING")
    assert name_status(browser, "already") == "a room has this name already"
    guid = create_on_page(browser, shot="create-room", name=name,
                          description="Weekly design reviews", privacy="open",
                          members=sip(lab, "bob"))
    room = room_now(lab, guid)
    assert (room["name"], room["description"], room["privacy"], room["category"]) == \
        (name, "Weekly design reviews", "open", "Lab")
    assert room["members"] == [sip(lab, "bob")]
    assert room["managers"] == [sip(lab, "alice")]
    found = search(clients("bob"), name)
    assert list(found) == [room_uri(lab, guid)]
    assert found[room_uri(lab, guid)]["description"] == "Weekly design reviews"


def test_edit_as_manager_reaches_the_chat(lab, browser, clients):
    # no tag in this name: the lab is the module's own, and the screenshot is the README's
    name = "Release planning"
    guid = rpc_room(lab, name)
    bob = clients("bob")
    assert resp_code(bob.join(room_uri(lab, guid))) == 200
    browser.viewport(*README_VIEWPORT)
    sign_in(browser, lab, "alice")
    show(browser, lab, "#/rooms/" + guid, "#room-form")
    assert browser.value("#room-name") == name
    assert browser.text("#page-title") == "Edit room “%s”" % name
    browser.fill("#room-description", "Dates and owners of the next release")
    browser.click("#room-save")
    assert browser.wait_text("#room-status", "Saved") == "Saved."
    assert browser.value("#room-description") == "Dates and owners of the next release"
    browser.evaluate("() => window.scrollTo(0, 0)")  # Save scrolled down: the form's top
    browser.screenshot("edit-room", full=False)
    assert room_now(lab, guid)["description"] == "Dates and owners of the next release"
    # bob, in the room, finds the new description
    assert search(bob, name)[room_uri(lab, guid)]["description"] == \
        "Dates and owners of the next release"


def test_a_member_added_on_the_page_joins_and_no_one_else(lab, browser, clients):
    name = "Closed circle " + tag()
    sign_in(browser, lab, "alice")
    show(browser, lab, "#/rooms/new", "#room-form")
    guid = create_on_page(browser, name=name, privacy="closed", members=sip(lab, "bob"))
    assert room_now(lab, guid)["privacy"] == "closed"
    uri = room_uri(lab, guid)
    assert resp_code(clients("bob").join(uri)) == 200
    rpl = clients("carol").join(uri)
    assert resp_code(rpl) == 403
    assert rpl.root.find(Q + "rpl/" + Q + "resp").text == "only members of this room may enter it"


# a PUT from the page's own context, with or without the session's CSRF token
PUT_FROM_PAGE = """async ([guid, version, withToken]) => {
  const me = await (await fetch('/api/v1/me')).json();
  const headers = {'Content-Type': 'application/json'};
  if (withToken) headers['X-CSRF-Token'] = me.csrf;
  const r = await fetch('/api/v1/rooms/' + guid, {method: 'PUT', headers,
    body: JSON.stringify({version, description: 'bob was here'})});
  return {status: r.status, body: await r.json()};
}"""


def test_a_member_who_does_not_manage_cannot_edit(lab, browser):
    name = "Not bobs " + tag()
    guid = rpc_room(lab, name)
    sign_in(browser, lab, "bob")
    # his rooms list it as one he is a member of, without a link to a form
    row = '#rooms-member tr[data-guid="%s"]' % guid
    assert browser.text(row + " td.room-name") == name
    assert browser.count(row + " a") == 0
    show(browser, lab, "#/rooms/" + guid, "#room-load-error")
    assert browser.text("#room-load-error") == "Not allowed: you do not manage this room"
    assert browser.count("#room-form") == browser.count("#room-save") == 0
    version = room_now(lab, guid)["version"]
    got = browser.evaluate(PUT_FROM_PAGE, [guid, version, True])
    assert got == {"status": 403, "body": {"error": "forbidden",
                                           "message": "you do not manage this room"}}
    # without his token it is the CSRF check that refuses
    assert browser.evaluate(PUT_FROM_PAGE, [guid, version, False])["body"]["error"] == "csrf"
    assert room_now(lab, guid)["description"] == "Made for a test"
    assert room_now(lab, guid)["version"] == version


def test_a_stale_edit_is_refused_and_overwrites_nothing(lab, browser):
    guid = rpc_room(lab, "Contested " + tag())
    sign_in(browser, lab, "alice")
    show(browser, lab, "#/rooms/" + guid, "#room-form")
    # meanwhile an administrator changes the room
    rpc(lab, "pchat.room.set", guid, "description=Changed by the administrator")
    browser.fill("#room-description", "Changed on the page")
    browser.click("#room-save")
    assert browser.wait_text("#room-status", "Someone else").startswith(
        "Someone else changed this room after you opened it, so your change was not saved.")
    browser.wait("#room-reload")
    browser.screenshot("stale-edit")
    assert room_now(lab, guid)["description"] == "Changed by the administrator"
    browser.click("#room-reload")
    browser.wait_text("#status", "Reloaded")
    browser.wait("#loading", "detached")
    assert browser.value("#room-description") == "Changed by the administrator"
    assert browser.count("#room-reload:visible") == 0


def test_moderation_replaces_a_message_clients_then_see(lab, browser, clients):
    name = "Moderated " + tag()
    guid = rpc_room(lab, name, members=())
    uri = room_uri(lab, guid)
    alice = clients("alice")
    assert resp_code(alice.join(uri)) == 200
    word = "leak" + tag()
    for text in ("keep me", "the %s numbers" % word):
        assert alice.post(uri, text).status == 200
    assert chat_texts(alice, uri) == ["keep me", "the %s numbers" % word]
    sign_in(browser, lab, "carol", route="#/admin/moderation", ready="#mod-form")
    browser.fill("#mod-room", name)
    browser.fill("#mod-keyword", word)
    browser.click("#mod-search")
    assert browser.wait_text("#mod-count", "message") == "1 message."
    assert browser.texts("[data-testid=mod-messages] td.message-text") == [
        "the %s numbers" % word]
    browser.click("#mod-replace")
    browser.click("#mod-replace-confirm")
    assert browser.wait_text("#mod-status", "Replaced") == "Replaced 1 message."
    # the search again: the words are gone; the room's messages, one of them moderated
    browser.wait_text("[data-testid=mod-messages] tr.empty", "No message matches.")
    browser.fill("#mod-keyword", "")
    browser.click("#mod-search")
    assert browser.wait_text("#mod-count", "2 messages") == "2 messages."
    assert browser.texts("[data-testid=mod-messages] td.message-text") == ["keep me", REMOVED]
    assert browser.texts("[data-testid=mod-messages] td[data-key=moderated]") == ["No", "Yes"]
    browser.screenshot("moderation")
    assert chat_texts(alice, uri) == ["keep me", REMOVED]


def test_admin_pages(lab, browser):
    sign_in(browser, lab, "carol", route="#/admin/categories",
            ready="[data-testid=admin-categories]")
    row = "[data-testid=admin-categories] tr:has(a.category-link:text-is('Lab'))"
    assert browser.text(row + " td[data-key=creators]") == sip(lab, "alice")
    assert browser.text(row + " td[data-key=allowed]") == lab.env["PCHAT_DOMAIN"]
    browser.screenshot("admin-categories")
    show(browser, lab, "#/admin/pool", "[data-testid=pool-nodes]")
    assert browser.texts("[data-testid=pool-nodes] td[data-key=node]") == ["node1"]
    assert browser.text("[data-testid=pool-nodes] td[data-key=alive]") == "Yes"
    assert browser.text("[data-testid=pool-redis]") == "up"
    browser.screenshot("admin-pool")


def test_hostile_names_show_as_text(lab, browser, clients):
    sign_in(browser, lab, "alice", route="#/rooms/new", ready="#room-form")
    guid = create_on_page(browser, name=XSS_NAME, description=XSS_DESCRIPTION)
    # the form: the values as typed, the heading and the flash as text
    assert browser.value("#room-name") == XSS_NAME
    assert browser.value("#room-description") == XSS_DESCRIPTION
    assert browser.text("#page-title") == "Edit room “%s”" % XSS_NAME
    assert browser.text("#status") == "Room “%s” created." % XSS_NAME
    assert browser.count("#main img, #main script, #status img, #status script") == 0
    # my rooms: its row shows the name as text, and no element came of it
    show(browser, lab, "#/rooms", "#rooms-managed")
    cell = browser.evaluate("""(guid) => {
      const row = document.querySelector(`#rooms-managed tr[data-guid="${guid}"]`);
      return [row.querySelector('td.room-name').textContent,
              row.querySelectorAll('img, script').length];
    }""", guid)
    assert cell == [XSS_NAME, 0]
    assert browser.count("img") == 0
    # a chat client gets the same characters
    found = search(clients("alice"), "onerror=alert(1)")
    assert found[room_uri(lab, guid)]["name"] == XSS_NAME
    assert found[room_uri(lab, guid)]["description"] == XSS_DESCRIPTION
    assert browser.dialogs() == []
    # the check can tell: a dialog the page opens is recorded
    browser.evaluate("() => alert('probe')")
    assert browser.dialogs() == [{"type": "alert", "message": "probe"}]


def test_keyboard_only_and_a_phone(lab, browser):
    browser.viewport(*PHONE_VIEWPORT)
    show(browser, lab, "#/rooms", "#login-form")
    tab_to(browser, "login-user")
    browser.type("alice")
    tab_to(browser, "login-password")
    browser.type(lab.passwords["alice"])
    browser.press("Enter")
    browser.wait("#rooms-managed")
    assert browser.text("#page-title") == "My rooms"
    assert_fits(browser, PHONE_VIEWPORT[0])
    browser.screenshot("my-rooms-phone")
    tab_to(browser, "rooms-create")
    browser.press("Enter")
    browser.wait("#room-form")
    assert browser.text("#page-title") == "Create a room"
    assert_fits(browser, PHONE_VIEWPORT[0])
