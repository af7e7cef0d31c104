#!/bin/bash
# Managed by sparks (formula `backup`): run by sparks-backup-notify.service when sparks-backup.service fails.
# Mails its status and the log of its last run through the machine's mailer.
set -eu
MAIL_TO=root
# shellcheck source=/dev/null
. /etc/sparks/backup.conf
{
    printf 'To: %s\n' "$MAIL_TO"
    printf 'Subject: sparks-backup FAILED on %s\n\n' "$(hostname -f 2>/dev/null || hostname)"
    systemctl status --no-pager --lines=0 sparks-backup.service || true
    echo
    journalctl --no-pager --output=short-iso -u sparks-backup.service \
        _SYSTEMD_INVOCATION_ID="$(systemctl show -p InvocationID --value sparks-backup.service)" || true
} | /usr/sbin/sendmail -t
