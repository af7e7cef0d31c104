# Undo `db_memcached`: stop memcached and remove its package (the package's own config file goes with a purge).
{%- from "db_memcached/map.jinja" import db_memcached as memcached %}

db-memcached-clean-service-dead:
  service.dead:
    - name: {{ memcached.service }}
    - enable: false

db-memcached-clean-package-purged:
  pkg.purged:
    - pkgs: {{ memcached.packages | json }}
    - require:
      - service: db-memcached-clean-service-dead
