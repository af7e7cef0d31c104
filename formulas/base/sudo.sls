# Passwordless sudo for the admin group, as a sudoers drop-in checked by visudo before it is installed.
{%- from "base/map.jinja" import base %}

include:
  - base.packages

base-sudo-dropin-managed:
  file.managed:
    - name: {{ base.sudo.file }}
    - source: salt://base/files/sudoers.jinja
    - template: jinja
    - context:
        sudo: {{ base.sudo | json }}
    - user: root
    - group: {{ "wheel" if base.package_manager == "brew" else "root" }}
    - mode: "0440"
    # A broken sudoers file locks every admin out: the new content must pass visudo or nothing is replaced.
    - check_cmd: /usr/sbin/visudo -cf
    - require:
      - pkg: base-packages-installed
