# Undo `firewall`: our table goes, nftables.service stops loading a ruleset, fail2ban goes back to its defaults.
{%- from "firewall/map.jinja" import firewall %}

firewall-clean-table-deleted:
  cmd.run:
    - name: nft delete table inet sparks
    - onlyif: nft list table inet sparks

# Debian's own file: an empty ruleset, the package's default (flush ruleset is left out: fail2ban's table stays).
firewall-clean-ruleset-file-managed:
  file.managed:
    - name: {{ firewall.config_file }}
    - contents: |
        #!/usr/sbin/nft -f
        # No firewall (sparks' `firewall.clean` removed it).
    - mode: "0755"
    - require:
      - cmd: firewall-clean-table-deleted

firewall-clean-service-disabled:
  service.disabled:
    - name: {{ firewall.service }}

firewall-clean-fail2ban-absent:
  file.absent:
    - names:
      - /etc/fail2ban/jail.d/sparks-firewall.local
      - /etc/fail2ban/action.d/nftables-common.local
