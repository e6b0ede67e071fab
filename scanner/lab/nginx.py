"""An nginx lab server: one TLS port, several name-based virtual servers with their own certificates and suites.

Measured with `openssl s_client -servername NAME -cipher SUITE` against nginx 1.22.1 on Debian bookworm's
OpenSSL 3.0: the virtual server that SNI selects applies its own `ssl_ciphers` and its own
`ssl_prefer_server_ciphers` (both directions: on in the default server and off in the named one, and the
reverse), and its own certificate; a name no server claims, or no SNI at all, gets the default server's.
`ssl_protocols`, though, is the default server's for every name (a named server limited to TLSv1.2 still
negotiates TLSv1.3 when the default server allows it), so `protocols` is one setting for the whole port.
Different certificate key types make the suites differ whatever nginx does: an ECDSA-only server can only
agree to ECDHE-ECDSA suites, an RSA one never does. The default configuration is:

| name | certificate | TLS 1.2 suites (`ssl_ciphers`) | server preference |
|---|---|---|---|
| rsa.lab.test | RSA | ECDHE-RSA-AES128-GCM-SHA256, AES256-SHA | on |
| ecdsa.lab.test | ECDSA | ECDHE-ECDSA-AES256-GCM-SHA384, ECDHE-ECDSA-CHACHA20-POLY1305 | off |
| default.lab.test (default_server) | RSA | ECDHE-RSA-AES256-GCM-SHA384, AES128-SHA | off |

What nginx records per connection, given that a scanner never sends an HTTP request: the access log only
gets connections that send application data (a client that sends just a newline after the handshake is logged
as a 400 with an empty request line, and the `lab` format then has $ssl_server_name, $ssl_protocol and
$ssl_cipher); a handshake followed by a close leaves nothing there. The error log at info level has one line
per connection that names the client and the port, not the SNI: "client closed connection while waiting for
request" after a completed handshake, "SSL_do_handshake() failed (SSL: ...no shared cipher) while SSL
handshaking", "peer closed connection in SSL handshake (104: Connection reset by peer)" for a client gone after
the ServerHello. nginx is built `--with-debug`, so `log_connections` turns on `debug_connection` for loopback:
about twenty debug lines per connection, among them `accept: 127.0.0.1:PORT`, `SSL server name: "NAME"` (or
`null`) and, for a completed handshake, `SSL: TLSv1.2, cipher: "NAME ..."`, which is how `connection_log()`
knows every connection's SNI and suite.

nginx runs as one process in the foreground (`daemon off; master_process off`) with `-p` and `-c` pointing at
the workdir, `-e stderr`, and its pid file, logs and temp directories in the workdir: it needs nothing under
/var/log/nginx, /var/lib/nginx or /run.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import tempfile
import time
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from scanner.lab.process import ProcessServer
from scanner.lab.servers import LOOPBACK6, Certificates

NGINX = "nginx"
RSA_NAME = "rsa.lab.test"
ECDSA_NAME = "ecdsa.lab.test"
DEFAULT_NAME = "default.lab.test"

_ACCEPT = re.compile(r"\*(\d+) accept: (\S+) fd:")
_SERVER_NAME = re.compile(r'\*(\d+) SSL server name: (?:null|"(.*)")$')
_SUITE = re.compile(r'\*(\d+) SSL: (\S+), cipher: "(\S+)')
_INFO = re.compile(r"\[info\] \d+#\d+: \*(\d+) (.*), client: (\S+), server: ")
_CONNECTION = re.compile(r"\] \d+#\d+: \*(\d+) ")


@cache
def unavailable_reason() -> str | None:
    """Why an nginx lab server cannot run here, or None when it can (tried once, with a real start)."""
    if shutil.which(NGINX) is None:
        return "nginx is not installed (apt-get install nginx-light)"
    with tempfile.TemporaryDirectory(prefix="tlsverify-nginx-") as tmp:
        trial = NginxServer("nginx-trial", certificates=Certificates(Path(tmp)), workdir=tmp)
        try:
            trial.start()
        except (OSError, RuntimeError) as exc:
            return f"nginx cannot start here: {exc}"
        finally:
            trial.stop()
    return None


@dataclass(frozen=True)
class VirtualServer:
    """One nginx `server` block: the names it claims (its certificate's names too), its TLS 1.2 suites as
    an OpenSSL cipher string, its certificate's key type, and whether it enforces its own order."""

    names: tuple[str, ...]
    ciphers: str
    key_type: str = "rsa"
    prefer_server_ciphers: bool = False


RSA_SERVER = VirtualServer((RSA_NAME,), "ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA", "rsa", prefer_server_ciphers=True)
ECDSA_SERVER = VirtualServer((ECDSA_NAME,), "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305", "ecdsa")
DEFAULT_SERVER = VirtualServer((DEFAULT_NAME,), "ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA", "rsa")


@dataclass(frozen=True)
class NginxConnection:
    """One connection as nginx's error log has it: its number, the client (address:port with
    `log_connections`, the address alone without), the SNI it sent (None: none, or not logged), for a completed
    handshake the protocol and suite (OpenSSL names), and nginx's info-level note on how it ended."""

    id: int
    peer: str | None
    server_name: str | None = None
    protocol: str | None = None
    cipher: str | None = None
    note: str | None = None


@dataclass
class NginxServer(ProcessServer):
    """nginx serving `default` (the default_server) and `virtual_servers` on 127.0.0.1:`port` (and [::1]:`port`
    with `ipv6`), with `protocols` (nginx's names: "TLSv1.2", "TLSv1.3") for the whole port."""

    default: VirtualServer = DEFAULT_SERVER
    virtual_servers: tuple[VirtualServer, ...] = (RSA_SERVER, ECDSA_SERVER)
    protocols: tuple[str, ...] = ("TLSv1.2",)
    ipv6: bool = False
    log_connections: bool = True
    _ready_id: int = 0

    def _path(self, suffix: str) -> Path:
        return Path(self.workdir) / f"{self.name}-nginx{suffix}"

    @property
    def error_log(self) -> Path:
        return self._path("-error.log")

    @property
    def access_log(self) -> Path:
        return self._path("-access.log")

    def command(self) -> list[str]:
        config = self._path(".conf")
        config.write_text(self.configuration())
        return [NGINX, "-p", f"{self.workdir}/", "-c", str(config), "-e", "stderr"]

    def configuration(self) -> str:
        """The nginx.conf this server runs with."""
        temp = self._path("-temp")
        temp.mkdir(exist_ok=True)
        debug = ""
        if self.log_connections:
            debug = f" debug_connection {self.host};" + (f" debug_connection {LOOPBACK6};" if self.ipv6 else "")
        lines = [
            "daemon off;",
            "master_process off;",
            "worker_processes 1;",
            f'pid "{self._path(".pid")}";',
            f'error_log "{self.error_log}" info;',
            f"events {{ worker_connections 1024;{debug} }}",
            "http {",
            "  log_format lab '$connection $remote_addr sni=$ssl_server_name server=$server_name "
            '$ssl_protocol $ssl_cipher status=$status "$request"\';',
            f'  access_log "{self.access_log}" lab;',
            *(f'  {kind}_temp_path "{temp}/{kind}";' for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
            "  default_type text/plain;",
            f"  ssl_protocols {' '.join(self.protocols)};",
        ]
        for server in (self.default, *self.virtual_servers):
            assert self.certificates is not None
            chain, key = self.certificates.leaf(server.key_type, server.names)
            default = " default_server" if server is self.default else ""
            listens = [f"{self.host}:{self.port}"] + ([f"[{LOOPBACK6}]:{self.port}"] if self.ipv6 else [])
            lines += [
                "  server {",
                *(f"    listen {address} ssl{default};" for address in listens),
                f"    server_name {' '.join(server.names)};",
                f'    ssl_certificate "{chain}";',
                f'    ssl_certificate_key "{key}";',
                f'    ssl_ciphers "{server.ciphers}:@SECLEVEL=0";',
                f"    ssl_prefer_server_ciphers {'on' if server.prefer_server_ciphers else 'off'};",
                f'    return 200 "{server.names[0]}\\n";',
                "  }",
            ]
        return "\n".join([*lines, "}", ""])

    def ready(self) -> bool:
        """A TLS handshake with the default server, whatever its suites; connections up to this one are then
        left out of `connection_log`."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers("ALL:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
        try:
            with (
                socket.create_connection((self.host, self.port), timeout=1) as sock,
                context.wrap_socket(sock, server_hostname=None),
            ):
                pass
        except (OSError, ssl.SSLError):
            return False
        deadline = time.monotonic() + 1
        while not (ids := _CONNECTION.findall(self._read(self.error_log))) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._ready_id = max((int(i) for i in ids), default=0)
        return True

    def connection_log(self, ended: int = 0, seconds: float = 5.0) -> list[NginxConnection]:
        """Every connection since `start` that nginx logged, in order (with `log_connections`, every one);
        waits up to `seconds` until at least `ended` of them have their closing note (nginx logs a
        connection's end a moment after the client has gone)."""
        deadline = time.monotonic() + seconds
        while True:
            found = self._connections()
            if sum(c.note is not None for c in found) >= ended or time.monotonic() >= deadline:
                return found
            time.sleep(0.02)

    def _connections(self) -> list[NginxConnection]:
        seen: dict[int, dict[str, str | None]] = {}
        for line in self._read(self.error_log).splitlines():
            for pattern, keys in _PATTERNS:
                if match := pattern.search(line):
                    entry = seen.setdefault(int(match[1]), {})
                    for key, value in zip(keys, match.groups()[1:], strict=True):
                        if key == "peer" and entry.get("peer"):
                            continue  # keep accept's address:port over the info line's address
                        entry[key] = value
                    break
        return [
            NginxConnection(
                id,
                entry.get("peer"),
                entry.get("server_name"),
                entry.get("protocol"),
                entry.get("cipher"),
                entry.get("note"),
            )
            for id, entry in sorted(seen.items())
            if id > self._ready_id
        ]

    @staticmethod
    def _read(path: Path) -> str:
        try:
            return path.read_text(errors="replace")
        except OSError:
            return ""


_PATTERNS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (_ACCEPT, ("peer",)),
    (_SERVER_NAME, ("server_name",)),
    (_SUITE, ("protocol", "cipher")),
    (_INFO, ("note", "peer")),
)
