# Undo `db_redis`: stop redis, remove sparks' settings and the packages (the data in /var/lib/redis stays).
{%- from "db_redis/map.jinja" import db_redis as redis %}

db-redis-clean-service-dead:
  service.dead:
    - name: {{ redis.service }}
    - enable: false

db-redis-clean-include-removed:
  file.line:
    - name: {{ redis.config_file }}
    - content: include {{ redis.settings_file }}
    - mode: delete
    - onlyif: test -f {{ redis.config_file }}
    - require:
      - service: db-redis-clean-service-dead

db-redis-clean-config-absent:
  file.absent:
    - name: {{ redis.settings_file }}
    - require:
      - file: db-redis-clean-include-removed

db-redis-clean-package-removed:
  pkg.removed:
    - pkgs: {{ redis.packages | json }}
    - require:
      - file: db-redis-clean-config-absent
