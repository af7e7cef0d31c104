# After apt upgrades a library (unattended upgrades included), needrestart restarts the services still running
# the old one, or only lists them, as pillar says. Reboots: `sparks_reboot.required` and the rolling reboot runner.
{%- from "base/map.jinja" import base %}
{%- if base.restarts.enabled and base.package_manager == "apt" %}

include:
  - base.packages

# needrestart reads conf.d/*.conf after its own needrestart.conf, so these settings win and the package's file
# stays untouched. It is Perl, eval'ed on every apt run: `perl -c` refuses a file that would not compile (a bad
# regex in never_restart) before it replaces the working one.
base-restarts-needrestart-config-managed:
  file.managed:
    - name: /etc/needrestart/conf.d/sparks.conf
    - source: salt://base/files/needrestart.conf.jinja
    - template: jinja
    - context:
        restarts: {{ base.restarts | json }}
    - mode: "0644"
    - check_cmd: perl -c
    - require:
      - pkg: base-packages-installed
{%- endif %}
