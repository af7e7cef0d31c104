base:
  '*':
    - sparks            # the embedded defaults every machine gets (pillar/sparks.sls)
    - local:            # this machine's own settings, from `1nstall.py --pillar FILE` (/etc/sparks/pillar)
        ignore_missing: true
