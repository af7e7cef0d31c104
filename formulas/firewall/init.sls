# An nftables firewall from pillar, per role: SSH from given sources always, web ports, database ports only from
# named hosts. Checked by `nft -c`, loaded atomically, never in a form that keeps out the SSH clients connected now.
{%- from "firewall/map.jinja" import firewall %}
{%- from "base/map.jinja" import base %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}
{%- set with_fail2ban = firewall.fail2ban and base.fail2ban.enabled and "fail2ban" in base.admin_packages %}
{%- if with_fail2ban %}

include:
  - base.fail2ban
{%- endif %}

{#- install_recommends unset in defaults: apt's own default, as before. #}
{{ packages_installed("firewall-package-installed", firewall, pkgs=[firewall.package]) }}

# Before the ruleset is written: sshd must listen on ssh:port, and every SSH client connected now (this run's own
# session included) must be let in by the new rules. Otherwise nothing is written or loaded.
firewall-ssh-clients-kept:
  sparks_firewall.ssh_kept:
    - port: {{ firewall.ssh.port }}
    - sources: {{ firewall.ssh.sources | json }}
    - public: {{ firewall.ssh.public | json }}

# `nft -c` parses the candidate and checks it against the kernel without loading anything: a ruleset nftables
# refuses never replaces the file in use (which nftables.service loads at boot).
firewall-ruleset-file-managed:
  file.managed:
    - name: {{ firewall.config_file }}
    - source: salt://firewall/files/nftables.conf.jinja
    - template: jinja
    - context:
        firewall: {{ firewall | json }}
    - mode: "0755"
    - check_cmd: /usr/sbin/nft -c -f
    - require:
      - pkg: firewall-package-installed
      - sparks_firewall: firewall-ssh-clients-kept

# nftables.service's reload is `nft -f <file>`: the one atomic transaction of the file.
firewall-service-running:
  service.running:
    - name: {{ firewall.service }}
    - enable: true
    - reload: true
    - watch:
      - file: firewall-ruleset-file-managed
{%- if with_fail2ban %}

# fail2ban bans through nftables (its own table, `inet f2b-table`, hooked before ours), dropping the packets.
firewall-fail2ban-banaction-managed:
  file.managed:
    - name: /etc/fail2ban/jail.d/sparks-firewall.local
    - contents: |
        # Managed by sparks (formula `firewall`, pillar sparks:firewall:fail2ban).
        [DEFAULT]
        banaction = nftables-multiport
        banaction_allports = nftables-allports
    - mode: "0644"
    - require:
      - pkg: firewall-package-installed

firewall-fail2ban-blocktype-managed:
  file.managed:
    - name: /etc/fail2ban/action.d/nftables-common.local
    - contents: |
        # Managed by sparks (formula `firewall`): banned addresses are dropped, not answered.
        [Init]
        blocktype = drop
    - mode: "0644"
    - require:
      - pkg: firewall-package-installed

# A restart, not a reload: fail2ban's reload drops a jail's actions when their name changes (the jail is left
# banning nothing). Bans survive the restart, in fail2ban's database.
firewall-fail2ban-restarted:
  cmd.run:
    - name: systemctl restart fail2ban
    - onchanges:
      - file: firewall-fail2ban-banaction-managed
      - file: firewall-fail2ban-blocktype-managed
    - require:
      - service: base-fail2ban-service-running
{%- endif %}
