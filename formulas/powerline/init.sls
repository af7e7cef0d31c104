# powerline-shell prompt for each user in sparks:users; servers accept POWERLINE_SHELL over ssh; font on desktops only.
{%- from "powerline/map.jinja" import powerline %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}
{%- from "sparks_lib/venv.jinja" import venv_built %}
{%- set bin = powerline.venv ~ "/bin/powerline-shell" %}

{#- No index refresh: base, which every machine has, refreshed it. #}
{{ packages_installed("powerline-prerequisites-installed", {"install_recommends": false}, refresh=false,
                      pkgs=["python3-venv"] + (["fonts-powerline"] if powerline.font else [])) }}

{{ venv_built("powerline-venv-built", powerline.venv, require=[{"pkg": "powerline-prerequisites-installed"}]) }}

# From PyPI into a venv of its own (no clone from a public git host, no system pip); again into a rebuilt venv.
powerline-shell-installed:
  cmd.run:
    - name: >-
        {{ powerline.venv }}/bin/pip install --quiet --disable-pip-version-check
        'powerline-shell=={{ powerline.version }}'
    - unless: >-
        {{ powerline.venv }}/bin/pip show powerline-shell 2>/dev/null
        | grep -qx 'Version: {{ powerline.version }}'
    - require:
      - cmd: powerline-venv-built

{%- for user in salt["pillar.get"]("sparks:users", []) %}

powerline-{{ user }}-bashrc-hook:
  file.blockreplace:
    - name: ~{{ user }}/.bashrc
    - marker_start: "# >>> sparks powerline >>>"
    - marker_end: "# <<< sparks powerline <<<"
    - source: salt://powerline/files/bashrc-hook.jinja
    - template: jinja
    - context:
        bin: {{ bin }}
    - append_if_not_found: true
    - require:
      - cmd: powerline-shell-installed
{%- endfor %}

{%- if powerline.accept_env_over_ssh %}

powerline-sshd-accept-env-managed:
  file.managed:
    - name: /etc/ssh/sshd_config.d/sparks-powerline.conf
    - contents: |
        # Managed by sparks (formula `powerline`): clients that send POWERLINE_SHELL get the powerline prompt.
        AcceptEnv POWERLINE_SHELL
    - mode: "0644"
    # sshd refuses to start on a bad config, which locks everyone out: check the main config plus this drop-in
    # with `sshd -t` before the drop-in is put in place.
    - check_cmd: >-
        sh -c 'tmp=$(mktemp) && cat /etc/ssh/sshd_config "$0" > "$tmp" && /usr/sbin/sshd -t -f "$tmp";
        status=$?; rm -f "$tmp"; exit $status'

powerline-sshd-reloaded:
  service.running:
    - name: {{ powerline.sshd_service }}
    - reload: true
    - watch:
      - file: powerline-sshd-accept-env-managed
{%- endif %}
