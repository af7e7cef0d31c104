# The embedded default pillar: what `bootstrap/1nstall.py` applies when you give it nothing else.
# Every formula has sane defaults in formulas/<name>/parameters/defaults.yaml; set here only what differs.
# pillar.example documents every key.
sparks:
  roles:
    - base
