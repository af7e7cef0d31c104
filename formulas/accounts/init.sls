# Login accounts from pillar (groups, shell, sudo, exactly these SSH keys; absent ones removed) and an sshd
# drop-in (password logins off, root login policy). Nothing changes when the result would leave no way in.
{%- from "accounts/map.jinja" import accounts %}
{%- set sshd = accounts.sshd %}

{#- Runs first; every other state here requires it. A refusal changes nothing: no user, key or sshd setting. #}
accounts-ssh-way-in-checked:
  sparks_accounts.way_in:
    - users: {{ accounts.resolved | json }}
    - sudo_group: {{ accounts.sudo_group | json }}
    - password_authentication: {{ sshd.password_authentication | json }}
    - permit_root_login: {{ sshd.permit_root_login | json }}

{%- for group in accounts.groups %}

accounts-group-{{ group }}-present:
  group.present:
    - name: {{ group }}
    - require:
      - sparks_accounts: accounts-ssh-way-in-checked
{%- endfor %}

{%- for name, u in accounts.resolved | dictsort %}
{%-   if u.present %}

accounts-user-{{ name }}-present:
  user.present:
    - name: {{ name }}
    - fullname: {{ u.fullname | json }}
    - shell: {{ u.shell }}
    - home: {{ u.home }}
{%-     if u.uid is not none %}
    - uid: {{ u.uid }}
{%-     endif %}
    # Exactly these supplementary groups: leaving the list (sudo: false included) removes the membership.
    - groups: {{ u.groups | json }}
    - remove_groups: true
    - createhome: true
    - require:
      - sparks_accounts: accounts-ssh-way-in-checked
{%-     for group in accounts.groups %}
      - group: accounts-group-{{ group }}-present
{%-     endfor %}

accounts-user-{{ name }}-ssh-dir-managed:
  file.directory:
    - name: {{ u.home }}/.ssh
    - user: {{ name }}
    - group: {{ u.group }}
    - mode: "0700"
    - require:
      - user: accounts-user-{{ name }}-present

# The whole file, so a key removed from pillar is removed here (ssh_auth.present would only ever add).
accounts-user-{{ name }}-authorized-keys-managed:
  file.managed:
    - name: {{ u.keys_file }}
    - contents: {{ (["# Managed by sparks (formula `accounts`, pillar sparks:accounts:users:" ~ name ~ ":ssh_keys)."] + u.ssh_keys) | join("\n") | json }}
    - user: {{ name }}
    - group: {{ u.group }}
    - mode: "0600"
    - require:
      - file: accounts-user-{{ name }}-ssh-dir-managed
    - require_in:
      - file: accounts-sshd-dropin-managed
{%-   else %}

accounts-user-{{ name }}-absent:
  user.absent:
    - name: {{ name }}
    - purge: {{ u.purge }}
    # Also while the user is logged in (userdel -f): an account being removed must not survive by being in use.
    - force: true
    - require:
      - sparks_accounts: accounts-ssh-way-in-checked
{%-   endif %}
{%- endfor %}

accounts-sshd-checker-file-managed:
  file.managed:
    - name: /usr/local/lib/sparks/sshd-check
    - source: salt://accounts/files/sshd-check.sh
    - makedirs: true
    - mode: "0755"

# A config sshd cannot read stops the next sshd start (and every login with it); one that a file read earlier
# overrides would not do what pillar says. The candidate is checked as sshd would read it, in place among the
# other drop-ins (sshd -t, then sshd -T for the effective values), and only then replaces the file in use.
accounts-sshd-dropin-managed:
  file.managed:
    - name: {{ sshd.dropin }}
    - source: salt://accounts/files/sshd-dropin.conf.jinja
    - template: jinja
    - context:
        sshd: {{ sshd | json }}
    - mode: "0644"
    - check_cmd: /usr/local/lib/sparks/sshd-check {{ sshd.dropin }}
    - require:
      - sparks_accounts: accounts-ssh-way-in-checked
      - file: accounts-sshd-checker-file-managed

# A reload: sshd re-reads its configuration for new connections; sessions already open (this one) stay.
accounts-sshd-service-reloaded:
  service.running:
    - name: {{ sshd.service }}
    - reload: true
    - watch:
      - file: accounts-sshd-dropin-managed
