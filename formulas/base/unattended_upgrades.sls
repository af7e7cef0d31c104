# Unattended upgrades: security updates installed daily by apt's own timers.
{%- from "base/map.jinja" import base %}
{%- set settings = base.unattended_upgrades %}
{%- if settings.enabled and base.package_manager == "apt" %}

include:
  - base.packages

# The two files Debian's `dpkg-reconfigure unattended-upgrades` would write, with our settings.
base-unattended-upgrades-periodic-managed:
  file.managed:
    - name: /etc/apt/apt.conf.d/20auto-upgrades
    - source: salt://base/files/20auto-upgrades.jinja
    - template: jinja
    - context:
        settings: {{ settings | json }}
    - mode: "0644"
    - require:
      - pkg: base-packages-installed

base-unattended-upgrades-config-managed:
  file.managed:
    - name: /etc/apt/apt.conf.d/52sparks-unattended-upgrades
    - source: salt://base/files/52sparks-unattended-upgrades.jinja
    - template: jinja
    - context:
        settings: {{ settings | json }}
    - mode: "0644"
    - require:
      - pkg: base-packages-installed

{%- for timer in ["apt-daily.timer", "apt-daily-upgrade.timer"] %}

base-unattended-upgrades-{{ timer }}-running:
  service.running:
    - name: {{ timer }}
    - enable: true
    - require:
      - file: base-unattended-upgrades-periodic-managed
{%- endfor %}
{%- endif %}
