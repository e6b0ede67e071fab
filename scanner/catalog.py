"""Every TLS 1.2 cipher suite, with its IANA, JSSE and OpenSSL names and a strength, from cryptodatahub.

The catalog is derived from the library's table, never typed by hand, and kept in `data/suites.json` so
that no start pays for importing and walking the library (0.15 s): `python -m scanner.catalog` writes the
file again, and a test checks that it is exactly what the installed cryptodatahub gives. Names resolve
case-insensitively; for IANA and JSSE names the `SSL_`/`TLS_` prefix is ignored, as JSSE spells the suites
first defined for SSL 3.0 (code points 0x0001-0x001B) with `SSL_`.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path


class Strength(StrEnum):
    """How good a suite is today: secure (forward secret and AEAD), weak, or insecure."""

    SECURE = "secure"
    WEAK = "weak"
    INSECURE = "insecure"


@dataclass(frozen=True)
class Suite:
    """One TLS 1.2 cipher suite."""

    code: int
    name: str
    openssl_name: str | None
    key_exchange: str
    authentication: str
    cipher: str
    mac: str
    forward_secret: bool
    aead: bool
    key_bits: int
    strength: Strength
    flaws: tuple[str, ...] = ()
    """Why the suite must never be Selected (NULL, anonymous, EXPORT, RC4, 3DES, DES, MD5, ...), or ()."""

    @property
    def jsse_name(self) -> str:
        """The Java (JSSE) spelling: `SSL_` for the suites first defined for SSL 3.0."""
        if 0x0001 <= self.code <= 0x001B and self.name.startswith("TLS_"):
            return "SSL_" + self.name[4:]
        return self.name

    @property
    def insecure(self) -> bool:
        """Never to be Selected: what `policy check` warns about and `policy show` calls insecure."""
        return bool(self.flaws) or self.strength is Strength.INSECURE

    @property
    def grade(self) -> str:
        """The strength in `policy check`'s words: `insecure (3DES)` for what it warns about, else `secure`,
        or what the suite lacks (`no forward secrecy`, `no AEAD`)."""
        if self.insecure:
            reasons = [flaw for flaw in self.flaws if flaw != "insecure"]
            return f"insecure ({', '.join(reasons)})" if reasons else "insecure"
        lacks = [what for what, has in (("no forward secrecy", self.forward_secret), ("no AEAD", self.aead)) if not has]
        return ", ".join(lacks) or "secure"

    @property
    def code_hex(self) -> str:
        return f"0x{self.code:04X}"

    @property
    def tier(self) -> tuple[int, int, int, int]:
        """Coarse strength, best first: grade, forward secrecy, AEAD, ECDHE over DHE. Suites that tie are
        the admin's call (AES-128 against AES-256 or ChaCha20, ECDSA against RSA)."""
        rank = {Strength.SECURE: 0, Strength.WEAK: 1, Strength.INSECURE: 2}[self.strength]
        return (rank, 0 if self.forward_secret else 1, 0 if self.aead else 1, 0 if self.key_exchange == "ECDHE" else 1)

    @property
    def sort_key(self) -> tuple[int, int, int, int, int, int]:
        """Strongest first when sorted ascending: the tier, then key size, then code point."""
        return (*self.tier, -self.key_bits, self.code)


class UnknownSuiteError(ValueError):
    """A suite name that matches nothing in the catalog."""

    def __init__(self, name: str, suggestions: tuple[str, ...]) -> None:
        self.name = name
        self.suggestions = suggestions
        hint = f" Did you mean {' or '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"unknown cipher suite {name!r}.{hint}")


_INSECURE_CIPHERS = ("NULL", "RC4", "RC2", "DES", "3DES", "IDEA", "GOST", "MAGMA")
_NO_FS_KEY_EXCHANGES = {"RSA", "DH", "ECDH", "PSK", "RSA_EXPORT", "KRB5", "SRP", "NULL"}


def _name(member: object) -> str:
    value = getattr(member, "value", None)
    name = getattr(value, "name", None)
    return str(name) if name else "NULL"


def _flaws(cs: object, name: str, cipher: str, mac: str, anonymous: bool) -> tuple[str, ...]:
    """Every reason a suite is insecure, labelled as an admin would say it; the one definition."""
    from cryptodatahub.common.grade import Grade

    upper = cipher.upper()
    found = [
        label
        for label, flawed in (
            ("NULL", cipher == "NULL"),
            ("anonymous", anonymous),
            ("EXPORT", bool(getattr(cs, "export_grade", False)) or "EXPORT" in name),
            ("RC4", "RC4" in name),
            ("3DES", "3DES" in name),
            ("DES", "_DES_" in name or name.endswith("_DES_CBC_SHA")),
            ("MD5", mac == "MD5" or name.endswith("_MD5")),
        )
        if flawed
    ]
    found += [bad for bad in _INSECURE_CIPHERS if bad not in found and upper.startswith(bad) and bad != "3DES"]
    if not found and getattr(cs, "min_grade", None) == Grade.INSECURE:
        found.append("insecure")
    return tuple(dict.fromkeys(found))


def _strength(kx: str, aead: bool, flaws: tuple[str, ...]) -> Strength:
    if flaws:
        return Strength.INSECURE
    if kx in _NO_FS_KEY_EXCHANGES or not aead:
        return Strength.WEAK
    return Strength.SECURE


def from_cryptodatahub() -> tuple[Suite, ...]:
    """The catalog built from cryptodatahub's table, as `data/suites.json` holds it."""
    from cryptodatahub.tls.algorithm import TlsCipherSuite

    suites = []
    for member in TlsCipherSuite:
        cs = member.value
        code = int(cs.code)
        # TLS 1.3 suites (0x13xx), signalling values and the null suite are not TLS 1.2 suites.
        if code >> 8 == 0x13 or code in (0x0000, 0x00FF, 0x5600) or not cs.iana_name:
            continue
        kx = _name(cs.key_exchange)
        auth = _name(cs.authentication)
        cipher = _name(cs.bulk_cipher)
        mac = _name(cs.mac)
        aead = bool(getattr(cs, "authenticated_encryption", False))
        anonymous = auth in ("anon", "ANONYMOUS") or "_anon_" in cs.iana_name
        bulk = getattr(cs.bulk_cipher, "value", None)
        key_bits = int(getattr(bulk, "key_size", 0) or 0)
        kx_params = getattr(cs.key_exchange, "value", None)
        forward_secret = bool(getattr(kx_params, "forward_secret", False)) and not anonymous
        flaws = _flaws(cs, cs.iana_name, cipher, mac, anonymous)
        suites.append(
            Suite(
                code=code,
                name=cs.iana_name,
                openssl_name=cs.openssl_name or None,
                key_exchange=kx,
                authentication=auth,
                cipher=cipher,
                mac=mac,
                forward_secret=forward_secret,
                aead=aead,
                key_bits=key_bits,
                strength=_strength(kx, aead, flaws),
                flaws=flaws,
            )
        )
    return tuple(sorted(suites, key=lambda s: s.code))


def _key(name: str) -> str:
    upper = name.strip().upper()
    if upper.startswith(("SSL_", "TLS_")):
        return "TLS_" + upper[4:]
    return upper


_FILE = "data/suites.json"


@cache
def all_suites() -> tuple[Suite, ...]:
    """Every TLS 1.2 suite the catalog knows, by code point."""
    rows = json.loads(resources.files("scanner").joinpath(_FILE).read_text(encoding="utf-8"))
    return tuple(Suite(**{**row, "strength": Strength(row["strength"]), "flaws": tuple(row["flaws"])}) for row in rows)


def catalog_json(suites: Iterable[Suite]) -> str:
    """The catalog file's text: one suite a line, so a change in cryptodatahub reads as a small diff."""
    lines = [json.dumps(dataclasses.asdict(suite), separators=(",", ":")) for suite in suites]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def main() -> int:
    """Write `data/suites.json` again from the installed cryptodatahub (after upgrading it)."""
    path = Path(__file__).with_name("data") / "suites.json"
    suites = from_cryptodatahub()
    path.write_text(catalog_json(suites), encoding="utf-8")
    print(f"{path}: {len(suites)} suites from cryptodatahub")
    return 0


@cache
def _index() -> dict[str, Suite]:
    index: dict[str, Suite] = {}
    for suite in all_suites():
        index.setdefault(_key(suite.name), suite)
        if suite.openssl_name:
            index.setdefault(suite.openssl_name.upper(), suite)
    return index


@cache
def _by_code() -> dict[int, Suite]:
    return {s.code: s for s in all_suites()}


def by_code(code: int) -> Suite | None:
    """The suite with this code point, or None."""
    return _by_code().get(code)


@cache
def _by_openssl() -> dict[str, Suite]:
    return {s.openssl_name: s for s in all_suites() if s.openssl_name}


# Names the vendor's guide prints that no registry has: the real suites end in _SHA256 (0x009C, 0x003C).
TYPO_ALIASES = {
    "TLS_RSA_WITH_AES_128_GCM_SHA128": "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_128_CBC_SHA128": "TLS_RSA_WITH_AES_128_CBC_SHA256",
}


def typo_warning(name: str) -> str | None:
    """A warning when `name` is one of the vendor's misspellings that tlsverify accepts as an alias."""
    real = TYPO_ALIASES.get(_key(name))
    if real is None:
        return None
    return f"{name.strip()} does not exist; read as {real} (the vendor's guide misspells it)"


def find(name: str) -> Suite | None:
    """The suite for a JSSE, IANA or OpenSSL name (or a known misspelling), or None."""
    key = _key(name)
    return _index().get(TYPO_ALIASES.get(key, key))


def resolve(name: str) -> Suite:
    """The suite for a JSSE, IANA or OpenSSL name; raises UnknownSuiteError with the closest names."""
    suite = find(name)
    if suite is None:
        raise UnknownSuiteError(name, suggest(name))
    return suite


def by_openssl_name(openssl_name: str) -> Suite | None:
    """The suite for an exact OpenSSL name, as OpenSSL reports a negotiated cipher."""
    found = _by_openssl().get(openssl_name) or find(openssl_name)
    if found is None and openssl_name.startswith("DHE-"):
        # OpenSSL 1.1 renamed EDH-* to DHE-*; the catalog keeps the older spelling for a few suites.
        found = _by_openssl().get("EDH-" + openssl_name[4:])
    return found


def suggest(name: str, limit: int = 3) -> tuple[str, ...]:
    """The closest real suite names to a misspelled one."""
    candidates = {_key(s.name): s.name for s in all_suites()}
    close = difflib.get_close_matches(_key(name), list(candidates), n=limit, cutoff=0.6)
    return tuple(candidates[c] for c in close)


def code_points(names: Iterable[str]) -> dict[str, str]:
    """Each of `names` that is a suite, with its IANA code point as four upper-case hex digits after 0x
    ("0xC02F"), in code point order: the table a JSON document carries for the suite names it holds."""
    found = {name: suite for name in names if (suite := find(name)) is not None}
    return {name: suite.code_hex for name, suite in sorted(found.items(), key=lambda item: (item[1].code, item[0]))}


def strongest_first(names: Iterable[str]) -> list[str]:
    """IANA names sorted strongest first."""
    return sorted(names, key=lambda n: resolve(n).sort_key)


if __name__ == "__main__":
    sys.exit(main())
