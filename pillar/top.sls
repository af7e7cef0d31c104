base:
  '*':
    # `local` exists only where someone put it: /etc/sparks/pillar/local.sls from `1nstall.py --pillar FILE`.
    - ignore_missing: true
    - sparks            # the embedded defaults every machine gets (pillar/sparks.sls)
    - local             # this machine's own settings, merged over the defaults
