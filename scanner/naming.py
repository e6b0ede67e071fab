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
