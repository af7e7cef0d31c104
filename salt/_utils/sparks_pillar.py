"""
Pillar values as they are, for our execution and state modules: ``__utils__["sparks_pillar.get"](__pillar__, key)``.

Why not ``__salt__["pillar.get"]``: since Salt 3008 it masks its answer outside template rendering. Called from
Python (a module or a state function), every non-empty scalar comes back as ``**********`` (the default too),
so a password would become a SCRAM verifier of the mask and a roster would list ``host: '**********'``
(salt/modules/pillar.py, salt/utils/secret.py: ``serial``). Templates are exempt: Salt turns masking off while
it renders Jinja, so ``salt["pillar.get"]`` in SLS and file templates returns real values.

``__pillar__`` itself holds the real values (3008 wraps it in ``MaskedDict``/``MaskedList``, which only mask
their repr): reading it by key path is what ``config.get`` does too, unmasked. The containers are unwrapped
here, so what a module returns or logs on purpose is plain data; keep secrets out of returns and logs anyway.
Works the same on Salt 3007, whose pillar is plain: a fleet upgrading from 3007 (README) syncs it to minions
still on 3007.
"""

import salt.utils.data

try:  # Salt >= 3008
    from salt.utils.secret import expose
except ImportError:  # Salt 3007 (a minion not upgraded yet): nothing is masked

    def expose(value):
        return value


__virtualname__ = "sparks_pillar"


def __virtual__():
    return __virtualname__


def get(pillar, key, default=None, delimiter=":"):
    """The value at ``key`` (``sparks:lxc:guests``) in ``pillar``, real and plain; ``default`` when absent."""
    return expose(salt.utils.data.traverse_dict_and_list(pillar, key, default, delimiter))
