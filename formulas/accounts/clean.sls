# Undo `accounts`: the sshd drop-in goes (sshd's own defaults again) and sshd reloads. Accounts and their keys
# stay: removing login accounts is what `present: false` is for.
{%- from "accounts/map.jinja" import accounts %}

accounts-clean-config-absent:
  file.absent:
    - names:
      - {{ accounts.sshd.dropin }}
      - /usr/local/lib/sparks/sshd-check

accounts-clean-sshd-reloaded:
  service.running:
    - name: {{ accounts.sshd.service }}
    - reload: true
    - watch:
      - file: accounts-clean-config-absent
