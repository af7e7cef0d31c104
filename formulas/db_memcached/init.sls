# Memcached: memory size, port and listen address from pillar (/etc/memcached.conf).
{%- from "db_memcached/map.jinja" import db_memcached as memcached %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}

{{ packages_installed("db-memcached-package-installed", memcached) }}

# Debian's unit passes this file's options to memcached (systemd-memcached-wrapper): we own all of it.
db-memcached-config-file-managed:
  file.managed:
    - name: {{ memcached.config_file }}
    - source: salt://db_memcached/files/memcached.conf.jinja
    - template: jinja
    - context:
        memcached: {{ memcached | json }}
    - mode: "0644"
    - require:
      - pkg: db-memcached-package-installed

# Memcached reads its options only at start and has no reload: a changed file restarts it (and empties the
# cache); an unchanged file restarts nothing.
db-memcached-service-running:
  service.running:
    - name: {{ memcached.service }}
    - enable: true
    - watch:
      - file: db-memcached-config-file-managed
