# Backups on a systemd timer: PostgreSQL dumps, Redis' snapshot, Django media and paths from pillar, sent off the
# machine by duply, GPG-encrypted, kept as long as pillar says. `backup.restore` brings them back.
{%- from "backup/map.jinja" import backup %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}
{#- A backup without a destination or a passphrase cannot exist: refused before anything runs. #}
{%- if not backup.destination %}
{%-   do raise("invalid pillar: sparks:backup:destination is empty: where should backups go (e.g. sftp://backup@store1.example.org/web1)?") %}
{%- endif %}
{%- if not salt["pillar.get"]("sparks:backup:passphrase") %}
{%-   do raise("invalid pillar: sparks:backup:passphrase is empty: backups are always encrypted") %}
{%- endif %}
{%- if backup.unknown_projects %}
{%-   do raise("invalid pillar: sparks:backup:django:projects names " ~ backup.unknown_projects | join(", ") ~ ", not in sparks:django:projects") %}
{%- endif %}
{%- set dir = backup.profile_dir %}

{{ packages_installed("backup-packages-installed", backup) }}

backup-spool-directory-managed:
  file.directory:
    - name: {{ backup.spool }}
    - user: root
    - group: root
    - mode: "0700"

backup-profile-directory-managed:
  file.directory:
    - name: {{ dir }}
    - user: root
    - group: root
    - mode: "0700"
    - makedirs: true

# The passphrase is read from pillar by the template, on the machine; the diff is never shown.
backup-profile-conf-managed:
  file.managed:
    - name: {{ dir }}/conf
    - source: salt://backup/files/duply.conf.jinja
    - template: jinja
    - context:
        backup: {{ backup | json }}
    - mode: "0600"
    - show_changes: false
    - require:
      - file: backup-profile-directory-managed

backup-profile-exclude-managed:
  file.managed:
    - name: {{ dir }}/exclude
    - source: salt://backup/files/exclude.jinja
    - template: jinja
    - context:
        backup: {{ backup | json }}
    - mode: "0600"
    - require:
      - file: backup-profile-directory-managed
{%- if backup.has_ssh_key %}

backup-profile-ssh-key-managed:
  file.managed:
    - name: {{ dir }}/ssh_key
    - source: salt://backup/files/ssh_key.jinja
    - template: jinja
    - mode: "0600"
    - show_changes: false
    - require:
      - file: backup-profile-directory-managed
{%- endif %}

backup-profile-known-hosts-managed:
  file.managed:
    - name: {{ dir }}/known_hosts
    - contents: {{ backup.known_hosts | join("\n") | json }}
    - mode: "0600"
    - require:
      - file: backup-profile-directory-managed

# What the scripts act on: databases, Redis, paths, media, the mail address. Sourced by them as root: a file bash
# cannot parse would fail every backup from now on, so `bash -n` checks it before it replaces the old one.
backup-config-file-managed:
  file.managed:
    - name: /etc/sparks/backup.conf
    - source: salt://backup/files/backup.conf.jinja
    - template: jinja
    - context:
        backup: {{ backup | json }}
    - makedirs: true
    - mode: "0644"
    - check_cmd: bash -n

{%- for script in ["sparks-backup", "sparks-restore", "sparks-backup-notify"] %}

backup-{{ script }}-script-managed:
  file.managed:
    - name: /usr/local/sbin/{{ script }}
    - source: salt://backup/files/{{ script }}.sh
    - mode: "0750"
{%- endfor %}

{%- for unit in ["sparks-backup.service", "sparks-backup.timer", "sparks-backup-notify.service"] %}

backup-{{ unit }}-unit-managed:
  file.managed:
    - name: /etc/systemd/system/{{ unit }}
    - source: salt://backup/files/{{ unit }}.jinja
    - template: jinja
    - context:
        backup: {{ backup | json }}
    - mode: "0644"
{%- endfor %}

# systemd must re-read changed unit files, the service's too (the timer's state alone would reload only when
# the timer changed).
backup-units-daemon-reloaded:
  cmd.run:
    - name: systemctl daemon-reload
    - onchanges:
{%- for unit in ["sparks-backup.service", "sparks-backup.timer", "sparks-backup-notify.service"] %}
      - file: backup-{{ unit }}-unit-managed
{%- endfor %}

backup-timer-running:
  service.running:
    - name: sparks-backup.timer
    - enable: true
    - watch:
      - file: backup-sparks-backup.timer-unit-managed
    - require:
      - pkg: backup-packages-installed
      - file: backup-spool-directory-managed
      - file: backup-profile-conf-managed
      - file: backup-profile-exclude-managed
      - file: backup-profile-known-hosts-managed
      - file: backup-config-file-managed
      - file: backup-sparks-backup-script-managed
      - file: backup-sparks-backup.service-unit-managed
      - file: backup-sparks-backup-notify.service-unit-managed
      - cmd: backup-units-daemon-reloaded
