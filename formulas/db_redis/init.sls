# Redis server: bind address, port, memory limit and persistence from pillar.
{%- from "db_redis/map.jinja" import db_redis as redis %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

{{ packages_installed("db-redis-package-installed", redis) }}

db-redis-config-settings-file-managed:
  file.managed:
    - name: {{ redis.settings_file }}
    - source: salt://db_redis/files/sparks.conf.jinja
    - template: jinja
    - context:
        redis: {{ redis | json }}
    - user: redis
    - group: redis
    # It may hold requirepass (read from pillar by the template): readable by redis only, and never shown.
    - mode: "0640"
    - show_changes: false
    - require:
      - pkg: db-redis-package-installed

# Redis applies the last value of a directive it reads: an include on the last line makes our file win while
# the distribution's file keeps everything else (this is the way redis.conf itself recommends).
db-redis-config-include-file-append:
  file.append:
    - name: {{ redis.config_file }}
    - text: include {{ redis.settings_file }}
    - require:
      - file: db-redis-config-settings-file-managed

# Redis cannot reload its configuration file (SIGHUP does not re-read it, and CONFIG SET cannot change bind
# or port), so a changed file means a restart. An unchanged file restarts nothing.
db-redis-service-running:
  service.running:
    - name: {{ redis.service }}
    - enable: true
    - watch:
      - file: db-redis-config-settings-file-managed
      - file: db-redis-config-include-file-append
