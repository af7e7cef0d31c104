{#- Each machine gets the embedded defaults, the machine-local file and the file of its own id, nothing more.

    `nodes.<id>` (dots in the id become `_`: nodes/web1_example_org.sls) is the pillar of one machine, kept where
    pillar is compiled: the master's /etc/sparks/pillar/nodes/, or salt-ssh's (the workstation's). The id is the
    one the master authenticated (the minion's key) or salt-ssh's roster name, never a grain, so no machine can
    ask for another's file. Settings several machines share (a role's) go into files that the nodes files
    include (`include: [roles.web]`): the mapping from machine to role lives there, on the master, where a
    minion cannot forge it. A machine not named gets no node file at all.

    `local` exists only where someone put it: /etc/sparks/pillar/local.sls from `1nstall.py --pillar FILE`, the
    settings of the machine that compiles its own pillar (masterless). A master or salt-ssh workstation would
    hand its own local.sls to every machine it manages: keep theirs empty and use nodes/ there. -#}
base:
  '*':
    - ignore_missing: true
    - sparks            # the embedded defaults every machine gets (pillar/sparks.sls)
    - local             # this machine's own settings, merged over the defaults
    - nodes.{{ opts.id | replace(".", "_") }}
