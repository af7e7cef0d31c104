"""HTTP from the host to a target while something runs there: a single GET and a request loop that counts failures."""

import threading
import time
import urllib.error
import urllib.request


def get(target, path="/", port=80, timeout=10, host=None, data=None):
    """(status, body) of an HTTP GET (a POST with ``data``) from the host through the target's nginx; ``host``: the
    Host header (a site's real name), else the target's address."""
    request = urllib.request.Request(f"http://{target.address}:{port}{path}", data=data)
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class RequestLoop(threading.Thread):
    """GET / in a loop from the host while a deploy runs: at most ``limit`` requests, stopped by ``stop()``."""

    def __init__(self, target, limit=2000, pause=0.05, host=None):
        super().__init__(daemon=True)
        self.target, self.limit, self.pause, self.host = target, limit, pause, host
        self.bodies, self.failures = [], []
        self.answers = []  # (time.monotonic(), body) of every good answer
        self._stop_event = threading.Event()

    def run(self):
        while len(self.bodies) + len(self.failures) < self.limit and not self._stop_event.is_set():
            try:
                status, body = get(self.target, host=self.host)
                if status == 200:
                    self.bodies.append(body)
                    self.answers.append((time.monotonic(), body))
                else:
                    self.failures.append(f"HTTP {status}: {body[:200]}")
            except OSError as exc:
                self.failures.append(repr(exc))
            time.sleep(self.pause)

    def stop(self):
        self._stop_event.set()
        self.join(timeout=60)

    @property
    def count(self):
        return len(self.bodies) + len(self.failures)


def under_load(target, action, host=None):
    """Run ``action()`` while the host sends requests (with ``host`` as Host); returns (its result, the loop)."""
    loop = RequestLoop(target, host=host)
    loop.start()
    time.sleep(1)
    try:
        result = action()
        time.sleep(1)  # a few more once the run is over
    finally:
        loop.stop()
    return result, loop
