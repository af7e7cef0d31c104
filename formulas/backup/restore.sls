# Restore from the backup (an action, like django.rollback): databases and Django media by default, paths when
# named. Options as command-line pillar, outside `sparks:`:
#
#   salt-ssh web2 state.apply backup.restore
#   salt-ssh web2 state.apply backup.restore pillar='{"backup_restore": {"databases": ["shop"], "media": [], "paths": ["/srv/uploads"], "age": "3D"}}'
#
# On a fresh machine, apply its roles first (db_postgres creates the roles and databases, django deploys the
# code, backup gives it the destination and passphrase), then this: the data comes back under them.
{%- from "backup/map.jinja" import backup %}
{%- set options = salt["pillar.get"]("backup_restore", {}) %}
{%- set databases = options.get("databases", backup.databases) %}
{%- set media = options.get("media", backup.media | list) %}
{%- set paths = options.get("paths", []) %}
{%- set age = options.get("age", "") %}

include:
  - backup

{%- for database in databases %}

backup-restore-database-{{ database }}-cmd-run:
  cmd.run:
    - name: /usr/local/sbin/sparks-restore database {{ database | quote }} {{ age | quote if age }}
    - env:
        HOME: /root
    - timeout: 43200
    - require:
      - service: backup-timer-running
{%- endfor %}

{%- for key in media %}

backup-restore-media-{{ key }}-cmd-run:
  cmd.run:
    - name: /usr/local/sbin/sparks-restore directory {{ backup.media[key] | quote }} {{ age | quote if age }}
    - env:
        HOME: /root
    - timeout: 43200
    - require:
      - service: backup-timer-running
{%- endfor %}

{%- for path in paths %}

backup-restore-path-{{ path }}-cmd-run:
  cmd.run:
    - name: /usr/local/sbin/sparks-restore directory {{ path | quote }} {{ age | quote if age }}
    - env:
        HOME: /root
    - timeout: 43200
    - require:
      - service: backup-timer-running
{%- endfor %}
