"""
The PostgreSQL clusters that exist on this machine, as Debian's postgresql-common lists them, and the choice of
the one sparks manages. Shared by the ``postgres_clusters`` grain (salt/_grains/sparks_postgres.py), which
formulas/db_postgres/map.jinja reads, and the cluster upgrade state (salt/_states/sparks_postgres.py).

Why the existing cluster decides: after a distribution upgrade (Debian 12 -> 13) the OS default major moves
(15 -> 17) but the data stays in the old cluster. Installing the new default would make Debian create a new,
empty ``17/main`` on the next free port; managing that one would hide the real data. A major upgrade is a
step of its own (``pg_upgradecluster``), asked for by pillar.
"""

import json
import shutil
import subprocess

__virtualname__ = "sparks_postgres"


def __virtual__():
    return __virtualname__


def parse_json(text):
    """``pg_lsclusters --json`` -> clusters [{version, cluster, port, running, owner, data_directory}]."""
    clusters = []
    for entry in json.loads(text or "[]"):
        clusters.append(
            {
                "version": int(float(entry["version"])),
                "cluster": str(entry["cluster"]),
                "port": int(entry["port"]),
                "running": bool(int(entry.get("running", 0))),
                "owner": str(entry.get("owner", "")),
                "data_directory": str(entry.get("pgdata", "")),
            }
        )
    return sort(clusters)


def parse_plain(text):
    """``pg_lsclusters --no-header`` (``Ver Cluster Port Status Owner Data-directory Log-file``) -> clusters.
    The status is ``online``, ``down``, or ``online,recovery`` and the like."""
    clusters = []
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) < 6 or not fields[2].isdigit():
            continue
        clusters.append(
            {
                "version": int(float(fields[0])),
                "cluster": fields[1],
                "port": int(fields[2]),
                "running": fields[3].split(",")[0] == "online",
                "owner": fields[4],
                "data_directory": fields[5],
            }
        )
    return sort(clusters)


def sort(clusters):
    return sorted(clusters, key=lambda c: (c["version"], c["cluster"], c["port"]))


def clusters(timeout=30):
    """The clusters on this machine; [] when PostgreSQL (postgresql-common) is not installed.
    ``--json`` needs postgresql-common 248+ (Debian 12 has it); older ones only print the table."""
    if not shutil.which("pg_lsclusters"):
        return []
    for argv, parse in ((["pg_lsclusters", "--json"], parse_json), (["pg_lsclusters", "--no-header"], parse_plain)):
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return []
        if result.returncode == 0:
            try:
                return parse(result.stdout)
            except (ValueError, KeyError, TypeError):
                continue
    return []


def managed(existing, name, port):
    """The cluster sparks manages among ``existing``: the one called ``name`` on ``port`` (after
    pg_upgradecluster the new cluster has the old one's port, the old one another), else the oldest one of
    that name (a second, newer one is what a package install created next to the data), else None."""
    named = [c for c in existing if c["cluster"] == name]
    on_port = [c for c in named if c["port"] == int(port)]
    for candidates in (on_port, named):
        if candidates:
            return min(candidates, key=lambda c: c["version"])
    return None
