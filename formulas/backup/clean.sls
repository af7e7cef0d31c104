# Undo `backup`: the timer stops, the units, scripts and duply profile (passphrase and key) go. The local spool
# and the backups at the destination stay: deleting backups is never a side effect.
{%- from "backup/map.jinja" import backup %}

backup-clean-timer-dead:
  service.dead:
    - name: sparks-backup.timer
    - enable: false

backup-clean-files-absent:
  file.absent:
    - names:
      - /etc/systemd/system/sparks-backup.timer
      - /etc/systemd/system/sparks-backup.service
      - /etc/systemd/system/sparks-backup-notify.service
      - /usr/local/sbin/sparks-backup
      - /usr/local/sbin/sparks-restore
      - /usr/local/sbin/sparks-backup-notify
      - /etc/sparks/backup.conf
      - {{ backup.profile_dir }}
    - require:
      - service: backup-clean-timer-dead

backup-clean-systemd-reloaded:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
      - file: backup-clean-files-absent
