"""
Rolling reboot of a role through a salt-master: one machine at a time, each back and healthy before the next.

    salt-run sparks_reboot.rolling tgt='roles:web' tgt_type=grain

Salt's own batch mode (``salt -G roles:web -b 1 system.reboot``) only waits for each job to *return*, which a
rebooting machine does before it goes down: the whole batch would be down at once. Here, for each machine in
turn (sorted by id):

1. ``sparks_reboot.reboot`` (execution module): reboots it if ``sparks_reboot.required`` says so (or always,
   with ``only_if_required=False``); machines that need none are left alone;
2. waits until it answers again with a new boot id (``boot_timeout`` seconds);
3. ``state.highstate`` (``highstate=True``): it converges to its roles, and any failed state stops the roll;
4. ``sparks_reboot.healthy``: systemd finished booting with no failed unit, and no reboot is still required.

The first machine that does not come back, does not converge or is not healthy stops the roll: the others are
not touched, the runner's return says why and ``salt-run`` exits non-zero.
"""

import logging
import time

import salt.client

log = logging.getLogger(__name__)

__virtualname__ = "sparks_reboot"


def __virtual__():
    return __virtualname__


def _client():
    return salt.client.get_local_client(__opts__["conf_file"])


def _call(client, minion, fun, arg=(), kwarg=None, timeout=60, **options):
    """Run ``fun`` on one minion: (True, return) or (False, why not). ``options`` go to LocalClient.cmd."""
    ret = client.cmd(minion, fun, arg=list(arg), kwarg=kwarg or {}, timeout=timeout, full_return=True, **options)
    if minion not in ret:
        return False, "did not answer"
    answer = ret[minion]
    if answer.get("retcode", 0) != 0:
        return False, answer.get("ret")
    return True, answer.get("ret")


def _wait_for_new_boot(client, minion, old_boot, timeout, poll):
    """Poll the minion until it answers with a boot id other than ``old_boot``; seconds taken, or None."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        # A minion that is down answers nothing: wait `poll` seconds for it, not Salt's gather_job_timeout (10 s).
        ok, boot = _call(client, minion, "sparks_reboot.boot", timeout=poll, gather_job_timeout=poll)
        if ok and boot and boot != old_boot:
            return time.monotonic() - started
        time.sleep(poll)
    return None


def _failed_states(highstate):
    if not isinstance(highstate, dict):
        return {"highstate": highstate}
    return {
        value.get("__id__", key): value.get("comment", "")
        for key, value in highstate.items()
        if isinstance(value, dict) and value.get("result") is False
    }


def _one(client, minion, only_if_required, highstate, boot_timeout, health_timeout, poll):
    """Reboot, wait for, converge and check one minion; its report (``ok`` False = stop the roll)."""
    report = {"ok": False}
    started = time.monotonic()
    ok, answer = _call(client, minion, "sparks_reboot.reboot", kwarg={"only_if_required": only_if_required})
    if not ok:
        report["error"] = f"could not ask it to reboot: {answer}"
        return report
    report["rebooted"] = bool(answer["rebooting"])
    report["reasons"] = answer["reasons"]
    if answer["rebooting"]:
        back = _wait_for_new_boot(client, minion, answer["boot"], boot_timeout, poll)
        if back is None:
            report["error"] = f"not back within {boot_timeout} s"
            return report
        report["back_after"] = round(back, 1)
    if highstate:
        ok, ret = _call(client, minion, "state.highstate", timeout=boot_timeout)
        failed = _failed_states(ret) if ok or isinstance(ret, dict) else {"highstate": ret}
        if failed:
            report["error"] = "highstate failed"
            report["failed_states"] = failed
            return report
    ok, health = _call(
        client, minion, "sparks_reboot.healthy", kwarg={"timeout": health_timeout}, timeout=health_timeout
    )
    if not ok or not health["healthy"]:
        report["error"] = "not healthy"
        report["health"] = health
        return report
    ok, still = _call(client, minion, "sparks_reboot.required")
    if not ok or still:
        report["error"] = "still requires a reboot"
        return report
    report["ok"] = True
    report["seconds"] = round(time.monotonic() - started, 1)
    return report


def rolling(
    tgt,
    tgt_type="glob",
    only_if_required=True,
    highstate=True,
    boot_timeout=600,
    health_timeout=300,
    poll=5,
):
    """Reboot the matching minions one at a time, each back, converged and healthy before the next.

    CLI Example:

    .. code-block:: bash

        salt-run sparks_reboot.rolling tgt='roles:web' tgt_type=grain
        salt-run sparks_reboot.rolling tgt='web*' only_if_required=False    # every one of them, needed or not
    """
    client = _client()
    answered = client.cmd(tgt, "test.ping", tgt_type=tgt_type, timeout=30)
    minions = sorted(minion for minion, up in answered.items() if up is True)
    nodes = {}
    result = {"result": True, "nodes": nodes, "retcode": 0}
    if not minions:
        result.update(result=False, retcode=1, comment=f"no minion matching {tgt!r} ({tgt_type}) answered")
        return result
    for index, minion in enumerate(minions):
        log.info("sparks_reboot.rolling: %s (%d of %d)", minion, index + 1, len(minions))
        report = _one(client, minion, only_if_required, highstate, boot_timeout, health_timeout, poll)
        nodes[minion] = report
        if not report["ok"]:
            untouched = minions[index + 1 :]
            result.update(result=False, retcode=1, comment=f"stopped at {minion}: {report['error']}")
            if untouched:
                result["untouched"] = untouched
            return result
    rebooted = [minion for minion, report in nodes.items() if report.get("rebooted")]
    result["comment"] = f"{len(rebooted)} of {len(minions)} rebooted, one at a time; all back and healthy"
    return result
