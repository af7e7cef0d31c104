# fail2ban configured to read the journal, so it starts on journald-only systems such as Debian 12.
{%- from "base/map.jinja" import base %}
{%- if base.fail2ban.enabled and "fail2ban" in base.admin_packages %}

include:
  - base.packages

base-fail2ban-jails-managed:
  file.managed:
    - name: /etc/fail2ban/jail.d/sparks.local
    - source: salt://base/files/fail2ban-jails.jinja
    - template: jinja
    - context:
        fail2ban: {{ base.fail2ban | json }}
    - mode: "0644"
    - require:
      - pkg: base-packages-installed

base-fail2ban-service-running:
  service.running:
    - name: fail2ban
    - enable: true
    # A changed jail file is applied by reloading fail2ban, not by restarting it (bans survive).
    - reload: true
    - watch:
      - file: base-fail2ban-jails-managed
{%- endif %}
