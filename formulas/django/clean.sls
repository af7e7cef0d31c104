# Undo `django`: stop and remove each project's units and nginx site, and its root (code, releases, env file).
{#- Databases (db_postgres), the project users and the packages (git, nginx, ...) stay. -#}
{%- from "django/map.jinja" import django %}

{%- for key, p in django.resolved | dictsort %}
{%-   set units = [p.web_unit, p.beat_unit, p.flower_unit] %}
{%-   for wname, w in p.worker_units | dictsort %}{% do units.append(w.unit) %}{% endfor %}
{%-   for unit in units %}

{{ p.id }}-clean-{{ unit }}-service-dead:
  service.dead:
    - name: {{ unit }}
    - enable: false
    - onlyif: test -f {{ django.systemd_dir }}/{{ unit }}.service

{{ p.id }}-clean-{{ unit }}-unit-file-absent:
  file.absent:
    - name: {{ django.systemd_dir }}/{{ unit }}.service
    - require:
      - service: {{ p.id }}-clean-{{ unit }}-service-dead
    - onchanges_in:
      - cmd: django-clean-systemd-daemon-reload-cmd-run
{%-   endfor %}

{{ p.id }}-clean-nginx-site-enabled-absent:
  file.absent:
    - name: {{ django.nginx.sites_enabled }}/{{ p.nginx_site }}
    - watch_in:
      - cmd: django-clean-nginx-reload-cmd-run

{{ p.id }}-clean-nginx-site-absent:
  file.absent:
    - name: {{ django.nginx.sites_available }}/{{ p.nginx_site }}

{{ p.id }}-clean-root-absent:
  file.absent:
    - name: {{ p.root }}
    - require:
      - cmd: django-clean-systemd-daemon-reload-cmd-run
{%- endfor %}

# Only when a unit file went: a second clean changes nothing.
django-clean-systemd-daemon-reload-cmd-run:
  cmd.run:
    - name: systemctl daemon-reload

django-clean-nginx-reload-cmd-run:
  cmd.wait:
    - name: systemctl reload nginx
    - onlyif: systemctl is-active --quiet nginx

django-clean-nginx-check-script-absent:
  file.absent:
    - name: /usr/local/sbin/sparks-nginx-check
