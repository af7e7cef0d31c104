"""`backup` applied for real with pillar.example's section: a machine's backup sent over sftp to a second target, then
restored onto a third, fresh one, where the Django site serves the restored rows and files.

Debian 13: `src1` runs pillar.example's `shop` (db_postgres, db_redis, django) and `backup`; `store1` is the
destination, an sftp-only account made by the `accounts` formula; `fresh1` gets the same roles and pillar, has never
seen src1's data, and `backup.restore` brings it. Debian 12: the same backup without Django, restored onto store1
(another machine too). Only the keys, addresses and passphrase are the test's own. The checks run in file order on
module-scoped targets; timings of the backup and the restore are printed (pytest -rP shows them).
"""

import copy
import hashlib
import subprocess
import time
import urllib.request

import pytest

from tests.support.converge import why
from tests.support.django_projects import SHOP_REPO, make_shop_repository, shop_pillar
from tests.support.http import get
from tests.support.saltrun import example_pillar
from tests.support.secrets import redis_cli

pytestmark = pytest.mark.integration

PASSPHRASE = "backup 'pass' phrase $HOME \"quoted\""
# Debian 12's Redis asks for a password (pillar.example's commented-out requirepass): the backup must give it.
REDIS_PASSWORD = 'redis "pass\\word" $USER'
MEDIA = "/srv/django/shop/production/shared/media"
UPLOADS = "/srv/uploads"
ROW = "from-src1-before-the-backup"
TIMINGS = {}
OUTPUTS = []  # every salt-ssh output of this module, searched for the secrets at the end


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path), "-C", "offsite@src1"], check=True)
    return path.read_text(), path.with_suffix(".pub").read_text().strip()


def backup_pillar(platform, store, private_key, public_key):
    """The pillar every machine of the test gets: pillar.example's sections, with this test's store and secrets."""
    if platform == "debian13":
        data = shop_pillar()
        del data["sparks"]["django"]["projects"]["shop-test"]  # one project is enough here
    else:
        data = example_pillar("db_postgres", "db_redis")
        data["sparks"]["db_redis"]["settings"] = {"requirepass": REDIS_PASSWORD}
    sparks = data["sparks"]
    sparks.update(copy.deepcopy(example_pillar("accounts", "backup")["sparks"]))
    offsite = sparks["accounts"]["users"]["offsite"]
    offsite["ssh_keys"] = [offsite["ssh_keys"][0].rsplit(" ssh-ed25519 ", 1)[0] + " " + public_key]
    key_type, host_key = store.read("/etc/ssh/ssh_host_ed25519_key.pub").split()[:2]
    backup = sparks["backup"]
    backup.update(
        destination=f"sftp://offsite@{store.address}/src1",
        ssh_key=private_key,
        known_hosts=[f"{store.address} {key_type} {host_key}"],  # what ssh-keyscan prints
        passphrase=PASSPHRASE,
    )
    if platform != "debian13":
        backup["django"] = {"projects": []}
    return data


def apply(salt_ssh, targets, sls, data=None):
    if data is not None:
        salt_ssh.set_pillar(data)
    ret = salt_ssh.run([t.name for t in targets] if len(targets) > 1 else targets[0].name, "state.apply", sls)
    OUTPUTS.append(ret.stdout + ret.stderr)
    return ret


def roles_sls(platform):
    return "db_postgres,db_redis,django,backup" if platform == "debian13" else "db_postgres,db_redis,backup"


@pytest.fixture(scope="module")
def site(target_run, platform, salt_ssh, tmp_path_factory):
    """src1 and store1 (and fresh1 on Debian 13), with their roles applied once."""
    names = ("src1", "store1", "fresh1") if platform == "debian13" else ("src1", "store1")
    targets = dict(zip(names, target_run.boot(*names, platform=platform), strict=True))
    private_key, public_key = keygen(tmp_path_factory.mktemp("backup-key") / "id_ed25519")
    data = backup_pillar(platform, targets["store1"], private_key, public_key)
    store = apply(salt_ssh, [targets["store1"]], "accounts", data)
    assert store.returncode == 0, why(store, targets["store1"])
    # The source, and the machine the backup will be restored onto, get the same roles and pillar, in one run.
    machines = [targets["src1"]] + ([targets["fresh1"]] if "fresh1" in targets else [])
    if platform == "debian13":
        for machine in machines:
            make_shop_repository(machine.root / SHOP_REPO.lstrip("/"))
    first = apply(salt_ssh, machines, roles_sls(platform))
    yield {
        "targets": targets,
        "data": data,
        "first": first,
        "platform": platform,
        "secrets": [private_key.splitlines()[1]],
    }
    salt_ssh.set_pillar({})
    target_run.shutdown(*targets.values())


def psql(target, sql, database="shop"):
    return target.run(f'runuser -u postgres -- psql -d {database} -Atc "{sql}"', check=True).stdout


def tree_digest(target, path):
    """sha256 of every file under ``path`` (relative names), and their owners: what a restore must bring back."""
    return target.run(
        f"cd {path} && find . -type f -printf '%P %u %m\\n' | sort"
        " && find . -type f -print0 | sort -z | xargs -0 sha256sum",
        check=True,
    ).stdout


def test_first_apply_succeeds(site):
    first = site["first"]
    for name in ("src1", "fresh1"):
        if name in site["targets"]:
            target = site["targets"][name]
            assert first.failed(target.name) == {}, why(first, target)
            assert "backup-timer-running" in first.changed(target.name)
    assert first.returncode == 0


def test_timer_is_scheduled_and_the_profile_private(site):
    src = site["targets"]["src1"]
    assert (
        src.run("systemctl is-enabled sparks-backup.timer && systemctl is-active sparks-backup.timer").returncode == 0
    )
    next_run = src.run("systemctl show -p NextElapseUSecRealtime --value sparks-backup.timer", check=True).stdout
    assert next_run.strip()  # scheduled
    modes = src.run("stat -c '%a %U %n' /etc/duply/sparks/conf /etc/duply/sparks/ssh_key /var/backups/sparks").stdout
    assert modes.split("\n")[:3] == [
        "600 root /etc/duply/sparks/conf",
        "600 root /etc/duply/sparks/ssh_key",
        "700 root /var/backups/sparks",
    ]


def test_second_apply_changes_nothing(site, salt_ssh):
    src = site["targets"]["src1"]
    again = apply(salt_ssh, [src], roles_sls(site["platform"]))
    assert again.returncode == 0, why(again, src)
    assert again.changed(src.name) == {}


def test_backup_reaches_the_store_encrypted(site):
    src, store = site["targets"]["src1"], site["targets"]["store1"]
    if site["platform"] == "debian13":
        psql(src, f"INSERT INTO greetings_greeting (text) VALUES ('{ROW}')")
        src.run(
            f"mkdir -p {MEDIA}/photos && head -c 300000 /dev/urandom >{MEDIA}/photos/cat.jpg && "
            f"echo 'a caption' >{MEDIA}/photos/cat.txt && chown -R shop: {MEDIA}",
            check=True,
        )
    else:
        psql(src, f"CREATE TABLE notes (id serial PRIMARY KEY, text text); INSERT INTO notes (text) VALUES ('{ROW}')")
    src.run(f"mkdir -p {UPLOADS} && head -c 100000 /dev/urandom >{UPLOADS}/report.pdf", check=True)
    redis_cli(src, "set sparks:test-key kept", REDIS_PASSWORD if site["platform"] != "debian13" else "")
    # Every process's command line is sampled while the backup runs: the passphrase must never show.
    src.run(
        'nohup sh -c \'while :; do cat /proc/[0-9]*/cmdline 2>/dev/null | tr "\\0" " " >>/root/ps.log;'
        " echo >>/root/ps.log; sleep 0.02; done' >/dev/null 2>&1 & echo $! >/root/ps.pid",
        check=True,
    )
    started = time.monotonic()
    try:
        ret = src.run("systemctl start sparks-backup.service", timeout=600)
    finally:
        TIMINGS[f"backup ({site['platform']}, first, full)"] = time.monotonic() - started
        src.run("kill $(cat /root/ps.pid)")
    log = src.run("journalctl -u sparks-backup.service -o cat --no-pager", check=True).stdout
    assert ret.returncode == 0, log[-4000:]
    assert "sparks-backup: postgres shop:" in log and "sparks-backup: redis:" in log and "Errors 0" in log
    spool = src.run("ls /var/backups/sparks/spool/postgres /var/backups/sparks/spool/redis", check=True).stdout
    assert "shop.dump" in spool and "globals.sql" in spool and "dump.rdb" in spool
    assert src.run("grep -c sparks:test-key /var/backups/sparks/spool/redis/dump.rdb").stdout.strip() == "1"
    remote = store.run("ls /home/offsite/src1", check=True).stdout.split()
    assert any(name.startswith("duplicity-full.") and name.endswith(".difftar.gpg") for name in remote), remote
    # Encrypted at the store: GnuPG packets (a symmetric session key first), no readable content.
    assert store.run("cat /home/offsite/src1/*.difftar.gpg | grep -c " + ROW).stdout.strip() == "0"
    assert (
        store.run("head -c1 /home/offsite/src1/duplicity-full.*.vol1.difftar.gpg | od -An -tx1").stdout.strip() == "8c"
    )
    samples = src.read("/root/ps.log")
    assert samples.count("\n") > 10 and "duplicity" in samples  # the sampler ran while duplicity did
    for secret in ("pass' phrase", "BEGIN OPENSSH PRIVATE KEY", "pass\\word"):
        assert secret not in samples
        assert secret not in log
    assert "pass' phrase" not in src.run("journalctl --no-pager -o cat").stdout


def test_next_backup_is_incremental(site):
    src, store = site["targets"]["src1"], site["targets"]["store1"]
    src.run(f"echo more >>{UPLOADS}/notes.txt", check=True)
    started = time.monotonic()
    ret = src.run("systemctl start sparks-backup.service", timeout=600)
    TIMINGS[f"backup ({site['platform']}, second, incremental)"] = time.monotonic() - started
    assert ret.returncode == 0
    remote = store.run("ls /home/offsite/src1", check=True).stdout.split()
    assert any(name.startswith("duplicity-inc.") for name in remote), remote


# The unit and its OnFailure= mail do not depend on the release; the mailer costs a package.
@pytest.mark.platforms("debian13")
def test_a_failed_backup_fails_its_unit_and_is_mailed(site, salt_ssh):
    src, store = site["targets"]["src1"], site["targets"]["store1"]
    # A real mailer that queues locally (its relay is unreachable from here): what it queues is what it would send.
    src.run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q nullmailer", check=True, timeout=300)
    data = copy.deepcopy(site["data"])
    data["sparks"]["backup"]["destination"] = f"sftp://offsite@{store.address}:2222/src1"  # nothing listens there
    try:
        broken = apply(salt_ssh, [src], "backup", data)
        assert broken.failed(src.name) == {}
        assert src.run("systemctl start sparks-backup.service", timeout=600).returncode != 0
        assert "sparks-backup.service" in src.run("systemctl --failed --no-legend --plain").stdout
        queued = src.run(
            "for i in $(seq 50); do ls /var/spool/nullmailer/queue/* >/dev/null 2>&1 && break; sleep 0.2; done;"
            " cat /var/spool/nullmailer/queue/*",
            check=True,
        ).stdout
        assert "Subject: sparks-backup FAILED on src1" in queued and "To: root" in queued
        assert "status=1/FAILURE" in queued
        assert "pass' phrase" not in queued
    finally:
        salt_ssh.set_pillar(site["data"])
        back = apply(salt_ssh, [src], "backup")
        src.run("systemctl reset-failed sparks-backup.service")
    assert back.failed(src.name) == {}


def test_restore_on_another_machine_brings_the_same_rows_and_files(site, salt_ssh):
    src, store = site["targets"]["src1"], site["targets"]["store1"]
    if site["platform"] == "debian13":
        dest = site["targets"]["fresh1"]
        assert ROW not in get(dest)[1]  # a new machine: the site runs, on its own empty database
        table = "greetings_greeting"
    else:
        # Debian 12: onto the store, another machine too (without Django: db_postgres and backup).
        dest = store
        roles = apply(salt_ssh, [dest], "db_postgres,backup")
        assert roles.failed(dest.name) == {}, why(roles, dest)
        table = "notes"
    started = time.monotonic()
    restored = salt_ssh.run(
        dest.name, "state.apply", "backup.restore", pillar={"backup_restore": {"paths": [UPLOADS]}}, timeout=900
    )
    TIMINGS[f"restore ({site['platform']}, onto {dest.name})"] = time.monotonic() - started
    OUTPUTS.append(restored.stdout + restored.stderr)
    assert restored.returncode == 0, why(restored, dest)
    changed = restored.changed(dest.name)
    assert "backup-restore-database-shop-cmd-run" in changed
    assert f"backup-restore-path-{UPLOADS}-cmd-run" in changed
    rows = f"SELECT id, text FROM {table} ORDER BY id"
    assert psql(dest, rows) == psql(src, rows) and ROW in psql(dest, rows)
    assert tree_digest(dest, UPLOADS) == tree_digest(src, UPLOADS)
    if site["platform"] == "debian13":
        assert "backup-restore-media-shop-cmd-run" in changed
        assert tree_digest(dest, MEDIA) == tree_digest(src, MEDIA)
        # The Django site serves them: the restored row through the view, the restored file through nginx.
        deadline = time.monotonic() + 30
        while ROW not in get(dest)[1] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert get(dest) == get(src) and ROW in get(dest)[1]
        assert get(dest, "/media/photos/cat.txt") == (200, "a caption\n")
        media = dest.run(f"sha256sum {MEDIA}/photos/cat.jpg", check=True).stdout.split()[0]
        with urllib.request.urlopen(f"http://{dest.address}/media/photos/cat.jpg", timeout=10) as answer:
            assert hashlib.sha256(answer.read()).hexdigest() == media


@pytest.mark.platforms("debian13")  # the checks (the pillar checker, the formula's own) do not depend on the release
def test_bad_backup_pillar_is_refused_before_anything_changes(site, salt_ssh):
    src = site["targets"]["src1"]
    before = src.run("find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum", check=True).stdout
    for section, message in [
        ({"destination": ""}, "sparks:backup:destination is empty"),
        ({"retention": {"keep_full": "three"}}, "sparks:backup:retention:keep_full: expected an integer"),
    ]:
        data = copy.deepcopy(site["data"])
        data["sparks"]["backup"].update(section)
        ret = apply(salt_ssh, [src], "backup", data)
        assert ret.returncode != 0
        assert message in ret.stdout + ret.stderr
    salt_ssh.set_pillar(site["data"])
    assert src.run("find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum", check=True).stdout == before


def test_secrets_never_in_state_output(site):
    assert len(OUTPUTS) >= 4
    for output in OUTPUTS:
        for secret in [PASSPHRASE, "pass' phrase", REDIS_PASSWORD, "pass\\word", *site["secrets"]]:
            assert secret not in output


def test_timings(site):
    """Not a check: the times of this module's backups and restore, for the record."""
    for what, seconds in TIMINGS.items():
        print(f"{what}: {seconds:.1f} s")
    assert TIMINGS
