# Turn a machine into a salt-minion of your master (apply it with salt-ssh to move a node from agentless to a master).
{%- from "salt_minion/map.jinja" import salt_minion %}
{%- from "sparks_lib/packages.jinja" import packages_installed %}
{%- from "sparks_lib/venv.jinja" import venv_built %}
{%- if not salt_minion.master %}
{{ raise("sparks:salt_minion:master is required: the address of your salt-master") }}
{%- endif %}

# A venv, and what pip needs to build Salt 3008's dependency timelib (published as source only, in C).
{{ packages_installed("salt-minion-prerequisites-installed", {"install_recommends": false}, refresh=false,
                      pkgs=salt_minion.packages) }}

# Salt in its own venv, the same way bootstrap/1nstall.py installs it (no system Python pollution): the pinned
# version with requirements/constraints.txt (every dependency as CI tested it), another version on its own.
{%- set pip = salt_minion.venv ~ "/bin/pip install --quiet --disable-pip-version-check" %}
{#- What `salt-minion --version` starts with when the wanted version is there ("3008.*": any 3008). #}
{%- set version_shown = "salt-minion " ~ (salt_minion.version | replace("*", "") if "*" in salt_minion.version
                                          else salt_minion.version ~ " ") %}
{#- Built again only when its Python changed (a distribution upgrade): then Salt is installed again below. A
    minion whose venv Python is gone cannot run at all: apply this with salt-ssh, or run bootstrap/1nstall.py. #}
{{ venv_built("salt-minion-venv-built", salt_minion.venv, require=[{"pkg": "salt-minion-prerequisites-installed"}]) }}
{%- if salt_minion.constrained %}

# Inside the venv, so after the venv (a rebuilt venv starts empty, and its Salt is then installed again).
salt-minion-constraints-managed:
  file.managed:
    - name: {{ salt_minion.constraints }}
    - source: salt://salt_minion/files/constraints.txt
    - makedirs: true
    - mode: "0644"
    - require:
      - cmd: salt-minion-venv-built
{%- endif %}

{#- pip replaces Salt's files one directory at a time. A minion that is running meanwhile imports modules from
    the half-removed tree (and writes their bytecode back into it: pip then fails with "Directory not empty"),
    so when this run is not the minion's own job (salt-ssh, salt-call), the minion is stopped first, as a
    package's prerm stops its daemon, and started again below (or at once, should pip fail: pip has then put
    the old files back). Through a master the minion cannot stop itself: its restart is scheduled below. #}
{%- set own_job = opts.get("__cli") == "salt-minion" %}
{#- An older unit's KillMode=process stops only the keepalive: its minion child is ended here (the [/] keeps
    this shell's own command line from matching). #}
{%- set minion_processes = "'[/]" ~ salt_minion.venv.lstrip("/") ~ "/bin/salt-minion'" %}
{%- set strays_stopped = "pkill -TERM -f " ~ minion_processes ~ "; for i in $(seq 30); do pgrep -f "
                         ~ minion_processes ~ " >/dev/null || break; sleep 1; done" %}
{#- With the pinned version, the stamp is the constraints file the venv was last installed with: new pins
    reinstall, same pins do not. #}
{%- set install = pip ~ (" --constraint " ~ salt_minion.constraints if salt_minion.constrained else "")
                  ~ " 'salt==" ~ salt_minion.version ~ "'"
                  ~ (" && cp " ~ salt_minion.constraints ~ " " ~ salt_minion.constraints ~ ".installed"
                     if salt_minion.constrained else "") %}

salt-minion-salt-installed:
  cmd.run:
    - name: >-
{%- if own_job %}
        {{ install }}
{%- else %}
        was=$(systemctl is-active salt-minion 2>/dev/null);
        if [ "$was" = active ]; then systemctl stop salt-minion; {{ strays_stopped }}; fi;
        {{ install }};
        rc=$?; if [ $rc != 0 ] && [ "$was" = active ]; then systemctl start salt-minion; fi; exit $rc
{%- endif %}
{%- if salt_minion.constrained %}
    - unless: >-
        {{ salt_minion.venv }}/bin/salt-minion --version | grep -qF '{{ version_shown }}' &&
        cmp -s {{ salt_minion.constraints }} {{ salt_minion.constraints }}.installed
{%- else %}
    - unless: "{{ salt_minion.venv }}/bin/salt-minion --version | grep -qF '{{ version_shown }}'"
{%- endif %}
    - require:
      - cmd: salt-minion-venv-built
{%- if salt_minion.constrained %}
      - file: salt-minion-constraints-managed
{%- endif %}

{%- set minion_config = {"master": salt_minion.master, "id": salt_minion.id or grains["id"],
                         "enable_fqdns_grains": False} %}
{%- if salt_minion.master_port %}{% do minion_config.update(master_port=salt_minion.master_port) %}{% endif %}
{%- if salt_minion.publish_port %}{% do minion_config.update(publish_port=salt_minion.publish_port) %}{% endif %}
{%- if salt_minion.roles %}{% do minion_config.update(grains={"roles": salt_minion.roles}) %}{% endif %}

salt-minion-config-managed:
  file.managed:
    - name: /etc/salt/minion.d/sparks.conf
    - makedirs: true
    - mode: "0644"
    - contents: |
        # Managed by sparks (formula `salt_minion`, pillar sparks:salt_minion).
        {{ minion_config | yaml(False) | indent(8) }}
    # A minion that cannot parse its configuration crash-loops: the file must load as a mapping first.
    - check_cmd: >-
        {{ salt_minion.venv }}/bin/python -c
        'import sys, yaml; sys.exit(not isinstance(yaml.safe_load(open(sys.argv[1])), dict))'
    - require:
      - cmd: salt-minion-salt-installed

salt-minion-unit-managed:
  file.managed:
    - name: /etc/systemd/system/salt-minion.service
    - contents: |
        [Unit]
        Description=Salt minion (installed by sparks)
        After=network-online.target

        [Service]
        ExecStart={{ salt_minion.venv }}/bin/salt-minion
        Restart=on-failure
        # The main process is a keepalive that passes SIGTERM on to the minion it forked; anything still running
        # once it has exited is killed. With Salt's own KillMode=process a minion that does not stop in time (an
        # old Salt's, its files replaced under it by an upgrade) outlives the restart and keeps answering the
        # master under the same id, beside the new one.
        KillMode=mixed
        TimeoutStopSec=30

        [Install]
        WantedBy=multi-user.target

# A running minion takes a new Salt, configuration or unit only by restarting. Through a master, the run applying
# this is the minion's own job: a restart inside it (a `watch`) races the job's return, which survives only
# because Salt's service.restart treats salt-minion specially (a scope of its own, and --no-block since 3006.15)
# and Salt's unit stops only the main process. Instead the restart is handed to systemd, detached, 10 s after
# the run (once it has returned), the same for salt-ssh and for the minion itself; the daemon-reload picks up a
# changed unit (its KillMode included, for the very stop that replaces the old minion). A minion that was not running (a first install) is only started, below: after this check, so
# that its fresh start is not restarted again.
salt-minion-service-restart-scheduled:
  cmd.run:
    - name: >-
        systemd-run --on-active=10 --description="salt-minion restart (sparks salt_minion)"
        /bin/sh -c 'systemctl daemon-reload && systemctl restart salt-minion'
    - onlyif: systemctl is-active --quiet salt-minion
    - onchanges:
      - cmd: salt-minion-salt-installed
      - file: salt-minion-config-managed
      - file: salt-minion-unit-managed

salt-minion-service-running:
  service.running:
    - name: salt-minion
    - enable: true
    - require:
      - cmd: salt-minion-service-restart-scheduled
      - file: salt-minion-config-managed
      - file: salt-minion-unit-managed
