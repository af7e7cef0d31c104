# Undo `powerline`: remove the ssh drop-in, the users' prompt hooks and the venv.
{%- from "powerline/map.jinja" import powerline %}

powerline-clean-files-absent:
  file.absent:
    - names:
      - /etc/ssh/sshd_config.d/sparks-powerline.conf
      - {{ powerline.venv }}

{%- for user in salt["pillar.get"]("sparks:users", []) %}

powerline-clean-{{ user }}-bashrc-hook-removed:
  file.blockreplace:
    - name: ~{{ user }}/.bashrc
    - marker_start: "# >>> sparks powerline >>>"
    - marker_end: "# <<< sparks powerline <<<"
    - content: ""
{%- endfor %}
