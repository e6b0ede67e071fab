"""What the seed says about the client's releases: which suites a release removed.

Only the facts the vendor's guide states are here (10.2.0.0 removed ten 3DES/RC4 names, seven distinct
suites). Full per-release default lists come with the policy lifecycle work.
"""

from __future__ import annotations

from functools import cache

from scanner import catalog

REMOVED_BY_RELEASE: dict[str, tuple[str, ...]] = {
    "10.2.0.0": (
        "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "SSL_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        "SSL_RSA_WITH_RC4_128_SHA",
        "TLS_RSA_WITH_RC4_128_SHA",
        "SSL_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
    ),
}


def release_key(release: str) -> tuple[int, ...]:
    """A sortable key for a dotted release number; non-numeric parts sort as 0."""
    return tuple(int(part) if part.isdigit() else 0 for part in release.split("."))


@cache
def removed_up_to(release: str) -> frozenset[str]:
    """IANA names of every suite removed by `release` or an earlier one: legacy in that release."""
    names: set[str] = set()
    for removed_in, suites in REMOVED_BY_RELEASE.items():
        if release_key(removed_in) <= release_key(release):
            names.update(catalog.resolve(n).name for n in suites)
    return frozenset(names)


def is_legacy(iana_name: str, release: str) -> bool:
    """True when the policy's release no longer ships this suite (the seed shows such suites red)."""
    return iana_name in removed_up_to(release)
