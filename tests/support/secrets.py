"""Looking for secrets on real machines without putting them on a command line (where the process list shows them).

Used by the integration tests that prove a pillar secret reaches only the file meant to hold it."""

import subprocess


def files_holding(text, *roots, target=None):
    """Files under ``roots`` whose contents hold ``text``: inside ``target``, or on this machine when None.

    grep reads ``text`` as its pattern from stdin (``-f -``)."""
    if target is not None:
        found = target.run(f"grep -rlsF -f - {' '.join(map(str, roots))} || true", input=text + "\n", timeout=600)
        return sorted(found.stdout.split())
    grep = ["grep", "-rlsF", "-f", "-", *map(str, roots)]
    return sorted(subprocess.run(grep, input=text + "\n", capture_output=True, text=True, check=False).stdout.split())


def redis_cli(target, args, password, port=6379):
    """``redis-cli ARGS`` inside ``target``, logged in with ``password`` through REDISCLI_AUTH read from stdin
    (no login when empty); its output."""
    login = "read -r REDISCLI_AUTH; export REDISCLI_AUTH; " if password else ""
    return target.run(f"{login}redis-cli -h 127.0.0.1 -p {port} {args}", input=f"{password}\n", check=True).stdout
