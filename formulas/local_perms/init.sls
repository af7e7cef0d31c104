# Private SSH files: ~/.ssh 0700 and every file in it 0600, for root and each user in pillar sparks:users.
{%- for user in ["root"] + salt["pillar.get"]("sparks:users", []) %}

local-perms-{{ user }}-ssh-directory:
  file.directory:
    - name: ~{{ user }}/.ssh
    - user: {{ user }}
    - dir_mode: "0700"
    - file_mode: "0600"
    - recurse:
      - user
      - mode
{%- endfor %}
