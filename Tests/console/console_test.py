#!/usr/bin/env python3
"""Drives Herald's operator console (/console) in headless Chromium.

Starts the real `herald serve` binary on a temporary configuration whose endpoints deliver to a
small webhook receiver running in this process, then, in the browser: signs in (a wrong key
first), checks endpoint health, opens a session, sends a notify and an inject through the forms,
sees them in the transcript and at the receiver, expands delivery attempts, broadcasts, retries a
dead letter, resumes a paused endpoint, pages and filters sessions, and checks that markup in a
message is shown as text. Then the same core path with `admin.listen` on a listener of its own.
Then an operator (a key with the `operate` scope) takes a session over, sees the user's messages
arrive live, replies and hands back, and an admin key reads it all in the audit log. Last, rich
outputs (quick replies, buttons, attachments, a card, a template), output status badges and
status events (SPEC §12).

Usage: console_test.py --herald PATH/TO/herald [--screenshots DIR]

Runs offline: Debian's chromium and chromium-driver, Python selenium.
"""

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ADMIN_KEY = "console-test-admin-key"
OPERATOR_KEY = "console-test-operator-key"
READ_KEY = "console-test-read-key"
HOOK_USER, HOOK_PASSWORD = "bot", "console-hook-password"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ECHO_FLOW = os.path.join(ROOT, "examples", "flows", "echo.yaml")
XSS_TEXT = '<script>window.__xss = "script"; alert(1)</script><img src=x onerror="window.__xss = \'img\'; alert(2)">'
XSS_QUICK_REPLY = '<img src=x onerror=alert(1)>'


# ----------------------------------------------------------------------------------------------
# A webhook receiver: records every delivery; the path picks the answer.

class Receiver:
    """`/hook` answers 200 (basic auth checked), `/dead` 400 (dead at once), `/gone` 410 (pauses
    the endpoint) until the test sets `answers["/gone"]` to something else."""

    def __init__(self):
        self.deliveries = []
        self.answers = {"/hook": 200, "/dead": 400, "/gone": 410, "/operators": 200, "/status": 200}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                with receiver.lock:
                    receiver.deliveries.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.answers.get(self.path, 404)
                expected = "Basic " + base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
                if self.path == "/hook" and self.headers.get("Authorization") != expected:
                    status = 401
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def bodies(self, path="/hook"):
        with self.lock:
            return [d["body"] for d in self.deliveries if d["path"] == path]

    def wait_for(self, predicate, what, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                deliveries = list(self.deliveries)
            # The predicate runs outside the lock: it may look at the receiver itself.
            found = [d for d in deliveries if predicate(d)]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"receiver: no delivery {what} within {timeout}s; got {self.deliveries}")

    def close(self):
        self.server.shutdown()


# ----------------------------------------------------------------------------------------------
# Herald: the real binary on a temporary configuration.

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Herald:
    def __init__(self, binary, receiver, workdir, separate_admin, name=None, status_webhook=False):
        self.port = free_port()
        self.admin_port = free_port() if separate_admin else self.port
        admin_listen = f"\n  listen: 127.0.0.1:{self.admin_port}" if separate_admin else ""
        # demo's status events (SPEC §12) go to /status when asked for.
        status = f"\n    statusWebhook:\n      url: {receiver.url('/status')}" if status_webhook else ""
        config = f"""
listen: 127.0.0.1:{self.port}
admin:
  keys:
    - "{ADMIN_KEY}"
    - {{name: ada-key, key: "{OPERATOR_KEY}", scopes: [operate]}}
    - {{name: dashboards, key: "{READ_KEY}", scopes: [read]}}{admin_listen}
storage: memory
endpoints:
  - urlToken: demo
    flow: {ECHO_FLOW}
    webhook:
      url: {receiver.url('/hook')}
      user: {HOOK_USER}
      password: {HOOK_PASSWORD}
      timeout: 5s
    handover:
      webhook:
        url: {receiver.url('/operators')}{status}
  - urlToken: billing
    flow: {ECHO_FLOW}
    webhook:
      url: {receiver.url('/dead')}
      timeout: 5s
  - urlToken: legacy
    flow: {ECHO_FLOW}
    webhook:
      url: {receiver.url('/gone')}
      timeout: 5s
"""
        path = os.path.join(workdir, name or ("separate.yaml" if separate_admin else "herald.yaml"))
        with open(path, "w") as f:
            f.write(config)
        self.log_path = path + ".log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([binary, "serve", "--config", path, "--log-level", "info"],
                                        stdout=self.log, stderr=subprocess.STDOUT, cwd=workdir)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"herald serve exited with {self.process.returncode}: {open(self.log_path).read()}")
            try:
                if http("GET", self.admin_url("/healthz"))[0] == 200 and http("GET", self.url("/healthz"))[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("herald serve did not answer /healthz within 20s")

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def admin_url(self, path):
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def send(self, urlToken, user, session, text):
        status, _, body = http("POST", self.url(f"/{urlToken}?wait=true"), {"userId": user, "sessionId": session, "text": text})
        assert status == 200, f"POST /{urlToken}: {status} {body}"

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
        return open(self.log_path).read()


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# ----------------------------------------------------------------------------------------------
# The browser.

def browser():
    os.environ.setdefault("SE_OFFLINE", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1360,1200", "--force-device-scale-factor=1", "--lang=en-GB",
                     "--disable-extensions", "--no-first-run", "--disable-background-networking"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(15)
    return driver


class Page:
    def __init__(self, driver):
        self.driver = driver

    def wait(self, condition, what, timeout=10):
        # The console re-renders a view when its data changes; an element found a moment ago may
        # be gone, so a stale element means "not yet" and the condition is tried again.
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05,
                                 ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition())
        except TimeoutException:
            raise AssertionError(f"browser: {what} within {timeout}s (page text: {self.text()[:1500]!r})")

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css):
        elements = self.all(css)
        return elements[0] if elements and elements[0].is_displayed() else None

    def text(self, css="body"):
        return self.driver.execute_script("return arguments[0].textContent", self.find(css))

    def type(self, css, value):
        element = self.find(css)
        element.clear()
        element.send_keys(value)

    def click(self, css):
        def clicked():
            element = self.visible(css)
            if element is None or not element.is_enabled():
                return False
            element.click()
            return True
        self.wait(clicked, f"{css} clickable")

    def go(self, hash):
        self.driver.execute_script("location.hash = arguments[0]", hash)

    def screenshot(self, directory, name):
        if directory:
            os.makedirs(directory, exist_ok=True)
            path = os.path.join(directory, name)
            self.driver.save_screenshot(path)
            print(f"console test: screenshot {os.path.relpath(path, ROOT)}")

    def no_alert(self):
        try:
            alert = self.driver.switch_to.alert
            text = alert.text
            alert.dismiss()
            raise AssertionError(f"an alert opened: {text!r}")
        except NoAlertPresentException:
            pass

    def sign_in_with(self, key):
        """Signs in on the page already open (after a sign-out, say)."""
        self.wait(lambda: self.visible("#sign-in-key"), "the sign-in form shows")
        self.type("#sign-in-key", key)
        self.click("#sign-in-button")
        self.wait(lambda: self.visible("#view-endpoints"), "the endpoints view shows after signing in")

    def sign_in(self, base):
        self.driver.get(base + "/console")
        self.wait(lambda: self.visible("#sign-in-key"), "the sign-in form shows")
        self.type("#sign-in-key", ADMIN_KEY)
        self.click("#sign-in-button")
        self.wait(lambda: self.visible("#view-endpoints"), "the endpoints view shows after signing in")


def transcript_items(page):
    return page.driver.execute_script(
        "return [...document.querySelectorAll('#transcript > li')].map(li => "
        "({cls: li.className, text: li.querySelector('.text') ? li.querySelector('.text').textContent : '',"
        " meta: li.querySelector('.meta').textContent}))")


# ----------------------------------------------------------------------------------------------
# The checks.

def check_static_files(herald):
    for path, kind in [("/console", "text/html"), ("/console/console.js", "text/javascript"),
                       ("/console/console.css", "text/css"), ("/console/favicon.svg", "image/svg+xml")]:
        status, headers, body = http("GET", herald.admin_url(path))
        headers = {k.lower(): v for k, v in headers.items()}
        assert status == 200, f"GET {path}: {status}"
        assert headers["content-type"].startswith(kind), f"GET {path}: Content-Type {headers['content-type']}"
        assert headers["x-content-type-options"] == "nosniff", f"GET {path}: no nosniff"
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp, f"GET {path}: CSP {csp}"
        assert "require-trusted-types-for 'script'" in csp, f"GET {path}: CSP without Trusted Types"
    page = http("GET", herald.admin_url("/console"))[2].decode()
    assert not re.search(r"<script(?![^>]*\ssrc=)", page), "the page has an inline script"
    assert not re.search(r"\son[a-z]+\s*=", page), "the page has an inline event handler"
    assert not re.search(r"\sstyle\s*=", page), "the page has an inline style"
    for path in ["/console/nope.js", "/console/..%2Fopenapi.yaml", "/console/%2e%2e%2fPackage.swift"]:
        status, _, _ = http("GET", herald.admin_url(path))
        assert status == 404, f"GET {path}: {status}, expected 404"
    # The admin API behind the page still needs the key.
    assert http("GET", herald.admin_url("/admin/v1/endpoints"))[0] == 401


def run_single_listener(binary, workdir, screenshots):
    receiver = Receiver()
    herald = Herald(binary, receiver, workdir, separate_admin=False)
    driver = None
    try:
        check_static_files(herald)
        # Sessions to look at: a conversation, one whose message carries markup, a dead letter
        # (the billing webhook answers 400), a paused endpoint (legacy answers 410), and enough
        # sessions for a second page.
        herald.send("demo", "user-42", "conv-7", "hello, I need to change my delivery address")
        herald.send("demo", "mallory", "conv-xss", XSS_TEXT)
        herald.send("billing", "user-7", "order-1", "send my invoice")
        herald.send("legacy", "user-9", "old-1", "hi")
        for i in range(26):
            herald.send("demo", f"bulk-user-{i % 3}", f"bulk-{i:02d}", "ping")
        receiver.wait_for(lambda d: d["path"] == "/dead", "to /dead")
        receiver.wait_for(lambda d: d["path"] == "/gone", "to /gone")
        receiver.wait_for(lambda d: d["path"] == "/hook" and d["body"].get("sessionId") == "conv-7", "for conv-7")

        driver = browser()
        page = Page(driver)

        # Sign in: a wrong key is refused and not kept; the right key is kept in sessionStorage only.
        driver.get(herald.url("/console"))
        page.wait(lambda: page.visible("#sign-in-key"), "the sign-in form shows")
        page.type("#sign-in-key", "not-the-key")
        page.click("#sign-in-button")
        page.wait(lambda: "not accepted" in page.text("#sign-in-error"), "a wrong key shows an error")
        assert driver.execute_script("return sessionStorage.length") == 0, "a wrong key was stored"
        # The refused request is the only thing in the browser log so far (reading it empties it).
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert all(e["source"] == "network" and "401" in e["message"] for e in errors), f"browser console errors: {errors}"
        assert page.visible("#view-endpoints") is None
        page.type("#sign-in-key", ADMIN_KEY)
        page.click("#sign-in-button")
        page.wait(lambda: page.visible("#view-endpoints"), "the endpoints view shows after signing in")
        assert driver.execute_script("return sessionStorage.getItem('herald.adminKey')") == ADMIN_KEY
        assert ADMIN_KEY not in driver.current_url
        assert driver.find_element(By.ID, "sign-in-key").get_attribute("value") == ""
        print("console test: sign-in refuses a wrong key, keeps the right one in sessionStorage")

        # Endpoint health: backlog, dead letters, the paused endpoint with its Resume button.
        page.wait(lambda: len(page.all("#endpoints-rows tr")) == 3, "three endpoints listed")
        page.wait(lambda: "paused" in page.text('tr[data-endpoint="legacy"]'), "legacy shows paused")
        page.wait(lambda: page.text('tr[data-endpoint="billing"] td:nth-child(7)').strip() == "1", "billing shows one dead letter")
        # Failure rate of delivery attempts (from /metrics): billing's one attempt got a 400,
        # legacy's a 410, demo's all succeeded.
        page.wait(lambda: page.text('tr[data-endpoint="billing"] td:nth-child(6)').strip() == "100%", "billing's failure rate is 100%")
        assert page.text('tr[data-endpoint="legacy"] td:nth-child(6)').strip() == "100%"
        assert page.text('tr[data-endpoint="demo"] td:nth-child(6)').strip() == "0%"
        assert "delivering" in page.text('tr[data-endpoint="demo"]')
        assert page.visible('button[data-resume="legacy"]') is not None
        page.screenshot(screenshots, "console-endpoints.png")

        # Sessions: filter by user, page through.
        page.go("#sessions")
        page.wait(lambda: len(page.all("#sessions-rows tr")) == 25, "a first page of 25 sessions")
        page.click("#sessions-next")
        page.wait(lambda: "Page 2" in page.text("#sessions-page") and len(page.all("#sessions-rows tr")) == 5, "a second page of 5 sessions")
        page.click("#sessions-previous")
        page.wait(lambda: "Page 1" in page.text("#sessions-page"), "back on page 1")
        Select(page.find("#sessions-endpoint")).select_by_value("demo")
        page.type("#sessions-user", "user-42")
        page.click("#sessions-apply")
        page.wait(lambda: [r.text for r in page.all("#sessions-rows .session-link")] == ["conv-7"], "the filter leaves conv-7 only")
        print("console test: sessions filter and paging work")

        # A session: open it, notify through the form, see it in the transcript and at the receiver.
        page.click("#sessions-rows .session-link")
        page.wait(lambda: page.visible("#view-session") and len(transcript_items(page)) == 2, "conv-7's transcript shows input and output")
        assert "#session/demo/conv-7" in driver.current_url and ADMIN_KEY not in driver.current_url
        page.wait(lambda: "delivered" in transcript_items(page)[1]["meta"], "the echo output shows delivered")
        notify_text = "An agent will call you at 3pm."
        page.type("#message-text", notify_text)
        page.click("#notify-button")
        page.wait(lambda: any(i["text"] == notify_text and "notify" in i["meta"] for i in transcript_items(page)), "the notify appears in the transcript")
        arrived = receiver.wait_for(lambda d: d["path"] == "/hook" and d["body"].get("type") == "notify" and d["body"].get("text") == notify_text,
                                    "of the notify")
        assert arrived[0]["body"]["sessionId"] == "conv-7" and arrived[0]["body"]["userId"] == "user-42"
        page.wait(lambda: "delivered" in transcript_items(page)[-1]["meta"], "the notify shows delivered (polling)")
        print("console test: notify sent from the form appears in the transcript and reached the receiver")

        # Inject runs the flow: the echo answer shows up.
        page.type("#message-text", "I moved to 12 Elm Street")
        page.click("#inject-button")
        page.wait(lambda: any(i["text"] == "You said: I moved to 12 Elm Street" for i in transcript_items(page)), "the inject's echo appears")
        receiver.wait_for(lambda d: d["body"].get("text") == "You said: I moved to 12 Elm Street" and d["body"].get("source") == "inject",
                          "of the inject's output")
        page.wait(lambda: "delivered" in transcript_items(page)[-1]["meta"], "the inject's output shows delivered")

        # A message arriving meanwhile shows up by polling alone.
        herald.send("demo", "user-42", "conv-7", "thanks!")
        page.wait(lambda: any(i["text"] == "You said: thanks!" for i in transcript_items(page)), "a new message appears without reload")
        page.wait(lambda: "delivered" in transcript_items(page)[-1]["meta"], "its output shows delivered")

        # Attempts of the notify: expand, see the 200.
        notify_item = '#transcript li.notify'
        page.click(notify_item + " button.link")
        page.wait(lambda: page.all(notify_item + " table.attempts td") and "200" in page.text(notify_item + " table.attempts"), "the notify's attempt log shows 200")
        page.screenshot(screenshots, "console.png")
        print("console test: inject, live polling and the attempt log work")

        # A notify for later: it shows under Scheduled, nothing reaches the receiver, Cancel drops it.
        before = len(receiver.bodies())
        page.type("#message-text", "Your survey, in an hour")
        page.type("#message-delay", "1h")
        page.click("#notify-button")
        page.wait(lambda: page.all("#session-scheduled li") and "Your survey, in an hour" in page.text("#session-scheduled"),
                  "the scheduled notify is listed")
        assert not page.visible("#session-scheduled-empty")
        assert "notify" in page.text("#session-scheduled li")
        page.click("#session-scheduled li button")
        page.wait(lambda: not page.all("#session-scheduled li") and page.visible("#session-scheduled-empty"), "the cancelled schedule is gone")
        status, _, body = http("GET", herald.admin_url("/admin/v1/scheduled?urlToken=demo"), headers={"X-API-Key": ADMIN_KEY})
        assert status == 200 and json.loads(body)["scheduled"] == [], body
        assert len(receiver.bodies()) == before, "a scheduled notify was sent at once"
        print("console test: a notify scheduled from the form is listed and cancelled")

        # Markup in a message is text: literal in the DOM, no element made, no script run.
        page.go("#session/demo/conv-xss")
        page.wait(lambda: page.visible("#view-session") and len(transcript_items(page)) == 2, "conv-xss's transcript shows")
        items = transcript_items(page)
        assert items[0]["text"] == XSS_TEXT, items[0]["text"]
        assert items[1]["text"] == "You said: " + XSS_TEXT, items[1]["text"]
        assert driver.execute_script("return document.querySelectorAll('#transcript img, #transcript script, img[src=\"x\"]').length") == 0
        assert driver.execute_script("return document.querySelectorAll('script').length") == 1, "a script element was added"
        time.sleep(0.5)
        page.no_alert()
        assert driver.execute_script("return window.__xss === undefined"), "injected code ran"
        # Belt and braces: were escaping ever to fail, the page's policy stops the markup. Under
        # Trusted Types a string assigned to innerHTML (or to a script's text) is an error, and an
        # inline script never runs under script-src 'self'.
        sinks = driver.execute_script("""
            const result = {};
            try { document.createElement('div').innerHTML = '<img src=x onerror="window.__xss = 1">'; result.innerHTML = 'allowed'; }
            catch (error) { result.innerHTML = error.name; }
            try { const s = document.createElement('script'); s.textContent = 'window.__xss = 2'; document.body.append(s); result.script = 'appended'; }
            catch (error) { result.script = error.name; }
            return result;""")
        assert sinks == {"innerHTML": "TypeError", "script": "TypeError"}, f"the page's policy let markup through: {sinks}"
        time.sleep(0.2)
        assert driver.execute_script("return window.__xss === undefined"), "injected code ran"
        # Those refusals are in the browser log by design; anything else there is a fault.
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "Trusted" not in e["message"]]
        assert not errors, f"browser console errors: {errors}"
        # The operator can send markup too: it reaches the user as text, and shows as text.
        page.type("#message-text", "<b>bold?</b><img src=y onerror=alert(3)>")
        page.click("#notify-button")
        page.wait(lambda: any(i["text"] == "<b>bold?</b><img src=y onerror=alert(3)>" for i in transcript_items(page)), "the markup notify shows as text")
        assert driver.execute_script("return document.querySelectorAll('#transcript b, #transcript img').length") == 0
        page.no_alert()
        print("console test: markup in messages is rendered as text (no element, no alert)")

        # Dead letters: the billing output, retried from the page (the webhook still answers 400).
        page.go("#dead")
        page.wait(lambda: len(page.all("#dead-rows tr")) == 1 and "send my invoice" in page.text("#dead-rows"), "the dead letter is listed")
        before = len(receiver.bodies("/dead"))
        page.click("#dead-rows button")
        page.wait(lambda: "Retrying" in page.text("#banner"), "the retry is confirmed")
        receiver.wait_for(lambda d: d["path"] == "/dead" and len(receiver.bodies("/dead")) > before, "of the retried dead letter")
        page.screenshot(screenshots, "console-dead-letters.png")
        print("console test: a dead letter was retried from the page")

        # Resume the paused endpoint once its webhook is fixed: the held output goes out.
        page.go("#endpoints")
        page.wait(lambda: page.visible('button[data-resume="legacy"]'), "legacy still paused")
        receiver.answers["/gone"] = 200
        page.click('button[data-resume="legacy"]')
        page.wait(lambda: "resumed" in page.text("#banner"), "the resume is confirmed")
        receiver.wait_for(lambda d: d["path"] == "/gone" and d["body"].get("sessionId") == "old-1" and receiver.answers["/gone"] == 200
                          and len(receiver.bodies("/gone")) >= 2, "of legacy's held output after Resume")
        page.wait(lambda: "delivering" in page.text('tr[data-endpoint="legacy"]') and not page.visible('button[data-resume="legacy"]'),
                  "legacy delivers again after Resume")
        # Broadcast to demo's sessions of one user.
        Select(page.find("#broadcast-endpoint")).select_by_value("demo")
        page.type("#broadcast-user", "user-42")
        page.type("#broadcast-text", "Maintenance tonight at 22:00")
        page.click("#broadcast-button")
        page.wait(lambda: "Notified 1 session" in page.text("#banner"), "the broadcast reports one session")
        receiver.wait_for(lambda d: d["body"].get("text") == "Maintenance tonight at 22:00" and d["body"].get("sessionId") == "conv-7", "of the broadcast")
        print("console test: resume and broadcast work")

        # Signing out forgets the key.
        page.click("#sign-out")
        page.wait(lambda: page.visible("#sign-in-key"), "the sign-in form after signing out")
        assert driver.execute_script("return sessionStorage.length") == 0
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, f"browser console errors: {errors}"
    finally:
        if driver:
            driver.quit()
        log = herald.stop()
        receiver.close()
    assert ADMIN_KEY not in log and HOOK_PASSWORD not in log, "a secret appears in herald's log"


def run_separate_admin_listener(binary, workdir):
    receiver = Receiver()
    herald = Herald(binary, receiver, workdir, separate_admin=True)
    driver = None
    try:
        assert herald.port != herald.admin_port
        assert http("GET", herald.url("/console"))[0] == 404, "the console is on the public listener"
        assert http("GET", herald.url("/console/console.js"))[0] == 404
        check_static_files(herald)
        herald.send("demo", "user-42", "conv-7", "hello")

        driver = browser()
        page = Page(driver)
        page.sign_in(herald.admin_url(""))
        page.wait(lambda: len(page.all("#endpoints-rows tr")) == 3, "three endpoints listed on the admin listener")
        page.go("#session/demo/conv-7")
        page.wait(lambda: len(transcript_items(page)) == 2, "the transcript on the admin listener")
        page.type("#message-text", "Sent from the admin listener")
        page.click("#notify-button")
        page.wait(lambda: any(i["text"] == "Sent from the admin listener" for i in transcript_items(page)), "the notify in the transcript")
        receiver.wait_for(lambda d: d["body"].get("text") == "Sent from the admin listener", "of the notify sent on the admin listener")
        print("console test: the console works on a separate admin listener (and is absent from the public one)")
    finally:
        if driver:
            driver.quit()
        herald.stop()
        receiver.close()


def run_endpoints_api(binary, workdir):
    """SPEC §14: an admin makes an endpoint from the console, edits it (its secrets shown as ***
    and kept), and deletes it; the config file's endpoints have no such buttons."""
    receiver = Receiver()
    herald = Herald(binary, receiver, workdir, separate_admin=False, name="endpoints.yaml")
    driver = None
    try:
        driver = browser()
        page = Page(driver)
        page.sign_in(herald.url(""))
        page.wait(lambda: len(page.all("#endpoints-rows tr")) == 3, "the config file's three endpoints")
        assert not page.all("#endpoints-rows button[data-edit]"), "a config file endpoint can be edited"
        definition = {
            "flow": {"yaml": "name: tenant\nnodes:\n  - say: 'tenant: {{ input.text }}'\n"},
            "webhook": {"url": receiver.url("/hook"), "user": HOOK_USER, "password": HOOK_PASSWORD, "timeout": "5s"},
            "sessionTTL": "10m",
        }
        page.type("#endpoint-token", "tenant-9")
        page.type("#endpoint-definition", json.dumps(definition))
        page.click("#endpoint-save")
        page.wait(lambda: len(page.all("#endpoints-rows tr")) == 4, "the new endpoint listed")
        row = page.find('#endpoints-rows tr[data-endpoint="tenant-9"]')
        assert "api · version" in row.text, row.text
        herald.send("tenant-9", "user-1", "s-1", "hello")
        receiver.wait_for(lambda d: d["body"].get("text") == "tenant: hello", "from the endpoint made in the console")

        # Edit: the form shows the definition with its secrets as ***; saving keeps them.
        page.click('#endpoints-rows button[data-edit="tenant-9"]')
        shown = page.find("#endpoint-definition").get_attribute("value")
        assert '"***"' in shown and HOOK_PASSWORD not in shown, shown
        page.type("#endpoint-definition", shown.replace('"10m"', '"20m"'))
        page.click("#endpoint-save")
        page.wait(lambda: "tenant-9 saved" in page.text("#banner"), "the change saved")
        herald.send("tenant-9", "user-1", "s-2", "again")
        receiver.wait_for(lambda d: d["body"].get("text") == "tenant: again" and d["path"] == "/hook", "after the edit (password kept)")
        assert json.loads(http("GET", herald.url("/admin/v1/endpoints/tenant-9"), headers={"X-API-Key": ADMIN_KEY})[2])["sessionTTL"] == "20m"

        page.click('#endpoints-rows button[data-delete="tenant-9"]')
        driver.switch_to.alert.accept()
        page.wait(lambda: len(page.all("#endpoints-rows tr")) == 3, "the endpoint gone from the list")
        assert http("POST", herald.url("/tenant-9"), {"userId": "u", "sessionId": "s", "text": "x"})[0] == 404
        print("console test: endpoints made, edited (secrets kept as ***) and deleted from the console")
    finally:
        if driver:
            driver.quit()
        herald.stop()
        receiver.close()


def run_rich(binary, workdir):
    """Rich outputs and statuses (SPEC §12): a notify with quick replies, a URL button, an image
    and a card shows them in the transcript (as text and attributes: a quick reply made of markup
    stays text); each output's status badge says sent once the receiver took it; the status
    events for demo's statusWebhook show as compact lines; the form sends quick replies."""
    receiver = Receiver()
    herald = Herald(binary, receiver, workdir, separate_admin=False, name="rich.yaml", status_webhook=True)
    driver = None
    try:
        herald.send("demo", "user-5", "conv-rich", "what are my options?")
        # An image this Herald serves: the page's policy (img-src 'self') lets it load.
        image_url = herald.url("/console/favicon.svg")
        notify = {
            "userId": "user-5", "sessionId": "conv-rich", "text": "Your order 1234 ships today.",
            "quickReplies": [{"title": "Yes", "payload": "YES"}, {"title": XSS_QUICK_REPLY, "payload": XSS_QUICK_REPLY}],
            "buttons": [{"title": "Track it", "url": "https://example.com/track?id=1234&x=<b>"}, {"title": "Call me", "payload": "CALL"}],
            "attachments": [{"type": "image", "url": image_url, "caption": "Your parcel"},
                            {"type": "file", "url": "https://example.com/invoice-1234.pdf", "name": "invoice-1234.pdf"}],
            "card": {"title": "Order 1234", "subtitle": "2 items, arriving Friday", "imageUrl": image_url,
                     "buttons": [{"title": "Details", "url": "https://example.com/orders/1234"}]},
        }
        status, _, body = http("POST", herald.url("/notify/demo"), notify, headers={"X-API-Key": ADMIN_KEY})
        assert status == 202, f"POST /notify/demo (rich): {status} {body}"
        output_id = json.loads(body)["outputId"]
        template = {"userId": "user-5", "sessionId": "conv-rich",
                    "template": {"name": "order_update", "language": "en", "parameters": ["1234", "Friday"]}}
        status, _, body = http("POST", herald.url("/notify/demo"), template, headers={"X-API-Key": ADMIN_KEY})
        assert status == 202, f"POST /notify/demo (template): {status} {body}"
        template_id = json.loads(body)["outputId"]
        arrived = receiver.wait_for(lambda d: d["path"] == "/hook" and d["body"].get("id") == output_id, "of the rich notify")[0]["body"]
        assert arrived["quickReplies"][1]["title"] == XSS_QUICK_REPLY and arrived["card"]["title"] == "Order 1234", arrived
        receiver.wait_for(lambda d: d["path"] == "/status" and d["body"].get("outputId") == output_id, "of the rich notify's status event")

        driver = browser()
        page = Page(driver)
        page.sign_in(herald.url(""))
        page.go("#session/demo/conv-rich")
        item = f'#transcript li[data-id="{output_id}"]'
        page.wait(lambda: page.all(item) and page.all(item + ' [data-output-status="sent"]'), "the rich notify shows with its status badge: sent")
        assert "✓ sent" in page.text(item + " .receipt"), page.text(item + " .receipt")
        rich = driver.execute_script("""
            const li = document.querySelector(arguments[0]);
            const attrs = (node) => node && ({text: node.textContent, title: node.getAttribute('title'), href: node.getAttribute('href'),
              target: node.getAttribute('target'), rel: node.getAttribute('rel'), src: node.getAttribute('src'), loading: node.getAttribute('loading'),
              tag: node.tagName});
            return {
              quick: [...li.querySelectorAll('.chips.quick-reply > .chip')].map(attrs),
              buttons: [...li.querySelectorAll(':scope > .rich > .chips.button > .chip')].map(attrs),
              image: attrs(li.querySelector('.attachment.image img.thumb')),
              imageLink: attrs(li.querySelector('.attachment.image a')),
              file: attrs(li.querySelector('.attachment.file a')),
              cardTitle: attrs(li.querySelector('.rich-card .card-title')),
              cardSubtitle: attrs(li.querySelector('.rich-card .card-subtitle')),
              cardImage: attrs(li.querySelector('.rich-card img')),
              cardButtons: [...li.querySelectorAll('.rich-card .chip')].map(attrs),
            };""", item)
        assert [(c["tag"], c["text"], c["title"]) for c in rich["quick"]] == [
            ("SPAN", "Yes", "payload: YES"), ("SPAN", XSS_QUICK_REPLY, "payload: " + XSS_QUICK_REPLY)], rich["quick"]
        track, call = rich["buttons"]
        assert track["tag"] == "A" and track["text"] == "Track it ↗" and track["href"] == "https://example.com/track?id=1234&x=%3Cb%3E", track
        assert track["target"] == "_blank" and track["rel"] == "noopener noreferrer", track
        assert call["tag"] == "SPAN" and call["text"] == "Call me" and call["title"] == "payload: CALL" and not call["href"], call
        assert rich["image"]["src"] == image_url and rich["image"]["loading"] == "lazy", rich["image"]
        assert rich["imageLink"]["href"] == image_url and rich["imageLink"]["rel"] == "noopener noreferrer" and "Your parcel" in rich["imageLink"]["text"]
        assert rich["file"]["text"] == "invoice-1234.pdf" and rich["file"]["href"] == "https://example.com/invoice-1234.pdf", rich["file"]
        assert rich["file"]["target"] == "_blank" and rich["file"]["rel"] == "noopener noreferrer", rich["file"]
        assert rich["cardTitle"]["text"] == "Order 1234" and rich["cardSubtitle"]["text"] == "2 items, arriving Friday", rich
        assert rich["cardImage"]["src"] == image_url, rich["cardImage"]
        assert [(b["tag"], b["text"], b["href"]) for b in rich["cardButtons"]] == [("A", "Details ↗", "https://example.com/orders/1234")], rich["cardButtons"]
        # The thumbnails load (same origin), and are no bigger than a thumbnail.
        page.wait(lambda: driver.execute_script(
            "return [...document.querySelectorAll(arguments[0] + ' img.thumb')].every(i => i.complete && i.naturalWidth > 0)", item),
            "the thumbnails load")
        size = driver.execute_script("const r = document.querySelector(arguments[0] + ' .attachment img').getBoundingClientRect(); return [r.width, r.height]", item)
        assert size[0] <= 220 and size[1] <= 160, f"the thumbnail is {size}"
        # The template notify, in one line.
        template_item = f'#transcript li[data-id="{template_id}"]'
        page.wait(lambda: page.all(template_item + " .template"), "the template notify shows")
        assert page.text(template_item + " .template") == "template order_update (en): 1234, Friday", page.text(template_item + " .template")
        # Status events (to the statusWebhook) are compact lines, not messages to the user.
        page.wait(lambda: any(i["cls"].endswith(" status") and i["text"] == f"status: sent for {output_id}" for i in transcript_items(page)),
                  "the rich notify's status event shows as a compact line")
        events = driver.execute_script("return [...document.querySelectorAll('#transcript li.status')].map(li => !!li.querySelector('.receipt, .rich, pre.json'))")
        assert events and not any(events), "a status event is rendered like a message"
        # The quick reply made of markup stayed text: no element, no alert, no script run.
        assert driver.execute_script("return document.querySelectorAll('img[src=\"x\"], #transcript script').length") == 0
        time.sleep(0.3)
        page.no_alert()
        assert driver.execute_script("return window.__xss === undefined"), "injected code ran"
        print("console test: a rich notify shows its chips, links, image, card and template; status badge and events show")

        # Quick replies from the form, one per line, go with a notify.
        page.type("#message-text", "When should we call?")
        page.type("#message-quick-replies", "Morning\n\nAfternoon ")
        page.click("#notify-button")
        sent = receiver.wait_for(lambda d: d["path"] == "/hook" and d["body"].get("text") == "When should we call?", "of the notify with quick replies")
        assert [q["title"] for q in sent[0]["body"]["quickReplies"]] == ["Morning", "Afternoon"], sent[0]["body"]
        form_item = f'#transcript li[data-id="{sent[0]["body"]["id"]}"]'
        page.wait(lambda: page.all(form_item + ' [data-output-status="sent"]') and
                  [c.text for c in page.all(form_item + " .chips.quick-reply .chip")] == ["Morning", "Afternoon"],
                  "the form's quick replies show as chips, and the notify as sent")
        assert page.find("#message-quick-replies").get_attribute("value") == ""
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, f"browser console errors: {errors}"
        print("console test: quick replies from the notify form")
    finally:
        if driver is not None:
            driver.quit()
        herald.stop()
        receiver.close()


def run_operators(binary, workdir, screenshots):
    """Take over → the user's messages live → reply → hand back, with an `operate` key; what
    that key may not do is not shown; a `read` key sees no actions at all; the audit log."""
    receiver = Receiver()
    herald = Herald(binary, receiver, workdir, separate_admin=False, name="operators.yaml")
    driver = None
    try:
        herald.send("demo", "user-42", "conv-9", "I want to speak to a human")
        receiver.wait_for(lambda d: d["body"].get("text") == "You said: I want to speak to a human", "of the first echo")
        driver = browser()
        page = Page(driver)

        # A read-only key: sessions are visible, no action is.
        driver.get(herald.url("/console"))
        page.sign_in_with(READ_KEY)
        page.wait(lambda: "dashboards" in page.text("#whoami"), "the key's name shows")
        assert page.visible('#nav a[data-view="audit"]') is None, "a read key sees the audit link"
        assert page.visible("#broadcast-form") is None, "a read key sees the broadcast form"
        page.go("#session/demo/conv-9")
        page.wait(lambda: page.visible("#view-session") and len(transcript_items(page)) == 2, "conv-9's transcript shows to a read key")
        for css in ["#operator-card", "#message-form", "#end-session", "#erase-user"]:
            assert page.visible(css) is None, f"a read key sees {css}"
        page.click("#sign-out")
        print("console test: a read key sees no action")

        # The operator: everything of `operate`, nothing of `admin`.
        page.sign_in_with(OPERATOR_KEY)
        page.wait(lambda: "ada-key" in page.text("#whoami"), "the operator key's name shows")
        page.go("#session/demo/conv-9")
        page.wait(lambda: page.visible("#takeover-button"), "Take over shows")
        assert page.visible("#end-session") is None and page.visible("#erase-user") is None, "an operate key sees admin actions"
        assert page.visible('#nav a[data-view="audit"]') is None
        page.type("#operator-name", "Ada")
        page.click("#takeover-button")
        page.wait(lambda: page.visible("#reply-text") and "Taken over by Ada" in page.text("#operator-state"), "the reply box shows after taking over")
        assert page.visible("#takeover-button") is None
        page.wait(lambda: "operator (Ada)" in page.text("#session-mode"), "the session's mode shows the operator")

        # The user writes: no echo; the message shows up live and reaches the operators' webhook.
        herald.send("demo", "user-42", "conv-9", "hello? anyone there?")
        page.wait(lambda: any(i["text"] == "hello? anyone there?" for i in transcript_items(page)), "the user's message appears live")
        forwarded = receiver.wait_for(lambda d: d["path"] == "/operators" and d["body"].get("text") == "hello? anyone there?", "to the operators")
        assert forwarded[0]["body"]["type"] == "userMessage" and forwarded[0]["body"]["operator"] == "Ada"
        time.sleep(0.5)
        assert not any(b.get("text") == "You said: hello? anyone there?" for b in receiver.bodies()), "the flow answered during the handover"

        page.type("#reply-text", "Hi, this is Ada. How can I help?")
        page.click("#reply-button")
        page.wait(lambda: any(i["text"] == "Hi, this is Ada. How can I help?" and "operator" in i["meta"] for i in transcript_items(page)),
                  "the reply appears in the transcript")
        reply = receiver.wait_for(lambda d: d["path"] == "/hook" and d["body"].get("text") == "Hi, this is Ada. How can I help?", "of the reply")
        assert reply[0]["body"]["source"] == "operator" and reply[0]["body"]["operator"] == "Ada", reply[0]["body"]
        page.screenshot(screenshots, "console-operator.png")

        page.click("#handback-button")
        page.wait(lambda: page.visible("#takeover-button") and "The flow answers" in page.text("#operator-state"), "handed back")
        herald.send("demo", "user-42", "conv-9", "thanks")
        page.wait(lambda: any(i["text"] == "You said: thanks" for i in transcript_items(page)), "the flow answers again")
        page.click("#sign-out")
        print("console test: an operator takes over, sees the user live, replies and hands back")

        # The admin key reads it in the audit log, under the operator key's name.
        page.sign_in_with(ADMIN_KEY)
        page.wait(lambda: page.visible('#nav a[data-view="audit"]'), "the audit link shows to an admin key")
        page.go("#audit")
        page.wait(lambda: [r.get_attribute("data-action") for r in page.all("#audit-rows tr")][:3] == ["handback", "reply", "handover"],
                  "the audit log lists handback, reply, handover newest first")
        assert "ada-key" in page.text("#audit-rows tr:first-child")
        assert OPERATOR_KEY not in page.text() and ADMIN_KEY not in page.text()
        print("console test: the audit log shows the operator's actions by key name")
    finally:
        if driver is not None:
            driver.quit()
        herald.stop()
        receiver.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--herald", required=True, help="the herald binary")
    parser.add_argument("--screenshots", help="save screenshots in this folder")
    arguments = parser.parse_args()
    # herald runs in a temporary folder: a relative path must not depend on it.
    arguments.herald = os.path.abspath(arguments.herald)
    if not os.access(arguments.herald, os.X_OK):
        print(f"console test FAILED: no herald binary at {arguments.herald} (run `swift build` first)", file=sys.stderr)
        return 1
    started = time.time()
    workdir = tempfile.mkdtemp(prefix="herald-console-")
    passed, failed = 0, 0
    for name, run in [("single listener", lambda: run_single_listener(arguments.herald, workdir, arguments.screenshots)),
                      ("separate admin listener", lambda: run_separate_admin_listener(arguments.herald, workdir)),
                      ("operators", lambda: run_operators(arguments.herald, workdir, arguments.screenshots)),
                      ("endpoints through the API", lambda: run_endpoints_api(arguments.herald, workdir)),
                      ("rich outputs and statuses", lambda: run_rich(arguments.herald, workdir))]:
        try:
            run()
            passed += 1
        except Exception:
            failed += 1
            print(f"console test FAILED ({name}):", file=sys.stderr)
            traceback.print_exc()
            for log in sorted(os.listdir(workdir)):
                if log.endswith(".log"):
                    print(f"--- {log}", file=sys.stderr)
                    print(open(os.path.join(workdir, log)).read()[-4000:], file=sys.stderr)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"console: {passed} passed, {failed} failed ({time.time() - started:.1f}s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
