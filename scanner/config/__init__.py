"""tlsverify's input files: the YAML source with places, the schemas, endpoints, policy and release files,
and the comment-keeping policy writer. Every problem is a ConfigError naming the file, the line and column,
the field, what was wrong and how to fix it; callers turn it into exit code 2.
"""

from scanner.config.endpoints import PROXY_CREDENTIAL_VARIABLES, load_endpoints, parse_proxy_url, write_endpoints
from scanner.config.policy_files import (
    RELEASES_ENV,
    check_policy_file,
    load_policy,
    load_releases,
    read_policy_document,
    read_release,
)
from scanner.config.source import MAX_FILE_BYTES
from scanner.config.writer import policy_yaml
from scanner.models import ConfigError

__all__ = [
    "MAX_FILE_BYTES",
    "PROXY_CREDENTIAL_VARIABLES",
    "RELEASES_ENV",
    "ConfigError",
    "check_policy_file",
    "load_endpoints",
    "load_policy",
    "load_releases",
    "parse_proxy_url",
    "policy_yaml",
    "read_policy_document",
    "read_release",
    "write_endpoints",
]
