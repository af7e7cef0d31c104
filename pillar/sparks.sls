# The embedded default pillar: what `bootstrap/1nstall.py` applies when you give it nothing else.
# Every formula has sane defaults in formulas/<name>/parameters/defaults.yaml; set here only what differs
# for all your machines. pillar.example documents every key.
#
# No `roles` here on purpose: a machine with none in pillar takes its `roles` grain, and top.sls falls back
# to `base` when neither is set.
sparks: {}
