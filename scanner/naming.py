"""One suite-name style per context: IANA names in JSON, the policy's own spelling in the terminal, both in HTML.

The policy's own spelling is how its file writes each suite (Java's `SSL_RSA_WITH_3DES_EDE_CBC_SHA`, or the
IANA `TLS_RSA_WITH_3DES_EDE_CBC_SHA`). A suite the file does not list (one a server accepts, say) is spelled
in the file's style: IANA if the file writes an SSL 3.0 suite with `TLS_`, else Java's, as the client's own
admin page does.
"""

from __future__ import annotations

from collections.abc import Callable

from scanner import catalog
from scanner.models import Policy

Spelling = Callable[[str], str]
"""An IANA name to the name a context shows."""


def policy_spelling(policy: Policy) -> Spelling:
    """Each suite as the policy file spells it; others in the file's style."""
    own = dict(policy.spellings)
    iana_style = any(written != catalog.resolve(name).jsse_name for name, written in own.items())

    def spell(name: str) -> str:
        if name in own:
            return own[name]
        suite = catalog.find(name)
        if suite is None:
            return name
        return suite.name if iana_style else suite.jsse_name

    return spell


def spelling_of(*policies: Policy) -> Spelling:
    """Each suite as the first of `policies` that lists it spells it; others in the first one's style (for
    a view of two policies: a diff, an impact)."""
    spellings = [policy_spelling(p) for p in policies]
    listed = [dict(p.spellings) for p in policies]

    def spell(name: str) -> str:
        for own, spelled in zip(listed, spellings, strict=True):
            if name in own:
                return spelled(name)
        return spellings[0](name) if spellings else name

    return spell
