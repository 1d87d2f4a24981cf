"""A headless Debian Chromium for a pytest test: driver.mjs (playwright-core) in a Node process,
spoken to in JSON lines, with the lab CA trusted through an NSS database made for this browser
alone (in a temporary HOME), so pages load over verified TLS."""
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading

from lab import TOP

HERE = os.path.dirname(os.path.abspath(__file__))
# Screenshots and the drivers' logs: CI keeps build/test-logs/; nothing here is committed.
ARTIFACTS = os.path.join(TOP, "build", "test-logs", "browser")
START_TIMEOUT = 30  # s for Node and Chromium to start


class BrowserError(Exception):
    """A command the browser could not carry out (Playwright's message)."""


def trusting_home(ca):
    """A fresh HOME whose NSS database (~/.pki/nssdb, where Chromium on Linux looks for the
    user's certificates) trusts the CA in the PEM file ca to identify TLS servers."""
    home = tempfile.mkdtemp(prefix="pchat-browser-")
    nssdb = "sql:" + os.path.join(home, ".pki", "nssdb")
    os.makedirs(nssdb[4:])
    for argv in (["certutil", "-N", "-d", nssdb, "--empty-password"],
                 ["certutil", "-A", "-d", nssdb, "-n", "pchat lab CA", "-t", "C,,", "-i", ca]):
        res = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if res.returncode != 0:
            shutil.rmtree(home, ignore_errors=True)
            raise RuntimeError("%s failed: %s" % (" ".join(argv), res.stdout))
    return home


class Browser:
    """One Chromium page. Each method waits for the browser's answer and returns it, or raises
    BrowserError with what the browser said."""

    def __init__(self, ca, name="browser"):
        os.makedirs(ARTIFACTS, exist_ok=True)
        self.name = name
        self.home = trusting_home(ca)
        self.log_path = os.path.join(ARTIFACTS, "%s-driver.log" % name)
        self._log = open(self.log_path, "w")
        # NODE_EXTRA_CA_CERTS: Playwright itself fetches the answers that goto(rewrite=) changes
        self.proc = subprocess.Popen(
            ["node", os.path.join(HERE, "driver.mjs")], cwd=HERE, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._log, text=True, start_new_session=True,
            env=dict(os.environ, HOME=self.home, NODE_EXTRA_CA_CERTS=ca))
        # a thread reads the answers, so every wait has a deadline even when the driver hangs
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._next_id = 0
        self.versions = self._answer(START_TIMEOUT)
        if not self.versions.get("ready"):
            raise RuntimeError("the browser driver did not start: %r" % self.versions)

    def _read(self):
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _answer(self, timeout):
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            # its answer could still come and be taken for the next command's: end it
            self._kill()
            raise RuntimeError("the browser driver did not answer within %d s, ended it (log: %s)"
                               % (timeout, self.log_path)) from None
        if line is None:
            self._log.flush()
            with open(self.log_path) as f:
                raise RuntimeError("the browser driver ended (exit %s); its log %s says:\n%s"
                                   % (self.proc.wait(), self.log_path, f.read()[-3000:]))
        return json.loads(line)

    def call(self, cmd, timeout=30, **args):
        if self.proc.poll() is not None:
            raise RuntimeError("the browser driver has ended (log: %s)" % self.log_path)
        self._next_id += 1
        self.proc.stdin.write(json.dumps(dict(args, id=self._next_id, cmd=cmd)) + "\n")
        self.proc.stdin.flush()
        reply = self._answer(timeout)
        assert reply.get("id") == self._next_id, "answer to another command: %r" % reply
        if not reply["ok"]:
            raise BrowserError(reply["error"])
        return reply["result"]

    def reset(self):
        """Starts again in a new browser context: no cookies, storage or page from before."""
        self.call("reset")

    def goto(self, url, rewrite=None):
        """{"response": {status, url, headers, body, tls}, "title": ...} when a page loaded;
        {"download": {filename, url, path, failure}} when the browser saved the answer as a file
        instead. rewrite: {header: value or None} changes the real answer's headers first."""
        return self.call("goto", url=url, rewrite=rewrite)

    def title(self):
        return self.call("title")

    def text(self, selector):
        """The text the page shows in the element selector (a Playwright selector) names."""
        return self.call("text", selector=selector)

    def fill(self, selector, value):
        self.call("fill", selector=selector, value=value)

    def click(self, selector):
        self.call("click", selector=selector)

    def screenshot(self, name, full=True):
        """Saves the whole page (full=False: what the viewport shows) as
        build/test-logs/browser/NAME.png; its path."""
        return self.call("screenshot", path=os.path.join(ARTIFACTS, name + ".png"), full=full)

    def texts(self, selector):
        """The text of every element selector names, in page order."""
        return self.call("texts", selector=selector)

    def value(self, selector):
        """The value of an input, textarea or select."""
        return self.call("value", selector=selector)

    def count(self, selector):
        """How many elements selector names (no wait: 0 is an answer)."""
        return self.call("count", selector=selector)

    def check(self, selector):
        """Checks a radio button or checkbox."""
        self.call("check", selector=selector)

    def press(self, key, selector=None):
        """A key ("Tab", "Enter", "Shift+Tab") at the element selector names, or at the focus."""
        self.call("press", key=key, selector=selector)

    def type(self, text):
        """Types text, key by key, wherever the focus is."""
        self.call("type", text=text)

    def wait(self, selector, state="visible"):
        """Waits until the element is attached, detached, visible or hidden."""
        self.call("wait", selector=selector, state=state)

    def wait_text(self, selector, text):
        """Waits until the element shows text (a part of its text, case aside); its whole text."""
        return self.call("waitText", selector=selector, text=text)

    def viewport(self, width, height):
        self.call("viewport", width=width, height=height)

    def url(self):
        return self.call("url")

    def evaluate(self, fn, arg=None):
        """Runs the JavaScript function fn (its source) in the page with arg; what it returns
        (awaited when a promise), as JSON."""
        return self.call("evaluate", fn=fn, arg=arg)

    def dialogs(self):
        """[{type, message}] of the dialogs (alert, confirm, prompt) the page opened since the
        context began; the driver dismissed each."""
        return self.call("dialogs")

    def _kill(self):
        # the driver's process group; Chromium (in a group of its own) exits by itself when its
        # DevTools pipe to the driver closes
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def close(self):
        """Ends the driver (it closes Chromium when its input ends; killed with it after 15 s)
        and removes the HOME."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._kill()
        finally:
            self._log.close()
            shutil.rmtree(self.home, ignore_errors=True)
