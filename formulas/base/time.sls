# Time synchronisation: systemd-timesyncd with the NTP servers from pillar.
{%- from "base/map.jinja" import base %}
{%- if base.time.enabled and base.package_manager == "apt" %}

include:
  - base.packages

# A drop-in, so the package's own timesyncd.conf stays untouched (upgrades never ask about it).
base-time-timesyncd-config-managed:
  file.managed:
    - name: /etc/systemd/timesyncd.conf.d/sparks.conf
    - source: salt://base/files/timesyncd.conf.jinja
    - template: jinja
    - context:
        time: {{ base.time | json }}
    - makedirs: true
    - mode: "0644"
    - require:
      - pkg: base-packages-installed

# Pillar asks for time synchronisation: a mask (someone's, or a container image's) would silently prevent it.
base-time-timesyncd-service-unmasked:
  service.unmasked:
    - name: systemd-timesyncd
    - require:
      - pkg: base-packages-installed

# In a container the clock belongs to the host: systemd refuses to start timesyncd there
# (ConditionVirtualization=!container), so it is only enabled, for the day the machine is a VM or metal.
base-time-timesyncd-service-enabled:
  service.enabled:
    - name: systemd-timesyncd
    - require:
      - file: base-time-timesyncd-config-managed
      - service: base-time-timesyncd-service-unmasked

base-time-timesyncd-service-running:
  service.running:
    - name: systemd-timesyncd
    - unless: systemd-detect-virt --quiet --container
    - watch:
      - file: base-time-timesyncd-config-managed
{%- endif %}
