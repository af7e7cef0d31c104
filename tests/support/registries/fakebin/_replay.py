"""Shared replay logic for the fake package tools (see README: MOCKED output)."""

import json
import os
import sys
import time

RECORDED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recorded")


def start(tool):
    if os.environ.get("PKGSEARCH_FAKE_SLEEP"):
        time.sleep(float(os.environ["PKGSEARCH_FAKE_SLEEP"]))
    if os.environ.get("PKGSEARCH_FAKE_FAIL") == tool:
        sys.stderr.write(f"{tool}: error: recorded failure (PKGSEARCH_FAKE_FAIL)\n")
        sys.exit(2)


def recorded(name):
    with open(os.path.join(RECORDED, name), encoding="utf-8") as fh:
        return "".join(line for line in fh if not line.startswith("#"))


def catalog(name):
    return json.loads(recorded(name))
