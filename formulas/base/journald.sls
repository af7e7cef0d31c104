# journald: persistent storage with size, age and rate limits from pillar.
{%- from "base/map.jinja" import base %}
{%- if base.journald.enabled and base.package_manager == "apt" %}

base-journald-config-managed:
  file.managed:
    - name: /etc/systemd/journald.conf.d/sparks.conf
    - source: salt://base/files/journald.conf.jinja
    - template: jinja
    - context:
        journald: {{ base.journald | json }}
    - makedirs: true
    - mode: "0644"

# journald reads its settings only at start. Restarting it is safe: the log streams of running services are
# kept open through systemd's file descriptor store, so no service loses its logging.
base-journald-service-restarted:
  service.running:
    - name: systemd-journald
    - watch:
      - file: base-journald-config-managed
{%- endif %}
