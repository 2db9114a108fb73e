"""A real OpenLDAP server (Debian's slapd) for the sign-in tests: its own configuration and database
in a temporary folder, the directory in tests/data/directory.ldif, on a free port of 127.0.0.1, with
StartTLS offered under a certificate from a throw-away CA (made with openssl)."""

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import free_port

LDIF = Path(__file__).resolve().parent / "data" / "directory.ldif"
SUFFIX = "dc=example,dc=com"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-password-1"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")
CONFIG = """\
{includes}
pidfile {folder}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 16777216
suffix "{suffix}"
rootdn "{admin_dn}"
rootpw {admin_password}
directory {folder}/data
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
access to attrs=userPassword by anonymous auth by * none
access to * by users read by * none
"""


@dataclass(frozen=True)
class Directory:
    uri: str
    ca_file: Path  # the CA that signed the server's certificate (for 127.0.0.1)

    def modify(self, ldif: str) -> None:
        """Change the directory as its administrator would (ldapmodify)."""
        command = ["ldapmodify", "-x", "-H", self.uri, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD]
        done = subprocess.run(command, input=ldif, text=True, capture_output=True, timeout=10)
        if done.returncode:
            raise RuntimeError(f"ldapmodify failed: {done.stderr}")


@contextmanager
def slapd(folder: Path) -> Iterator[Directory]:
    """slapd in the foreground (a child of this process), loaded from LDIF; stopped on exit."""
    (folder / "data").mkdir(parents=True)
    make_certificates(folder)
    includes = "\n".join(f"include /etc/ldap/schema/{name}.schema" for name in SCHEMAS)
    config = folder / "slapd.conf"
    config.write_text(
        CONFIG.format(
            includes=includes, folder=folder, suffix=SUFFIX, admin_dn=ADMIN_DN, admin_password=ADMIN_PASSWORD
        )
    )
    subprocess.run(["slapadd", "-f", config, "-l", LDIF], check=True, capture_output=True, timeout=30)
    uri = f"ldap://127.0.0.1:{free_port()}"
    log = (folder / "slapd.log").open("wb")
    process = subprocess.Popen(["slapd", "-d", "0", "-f", config, "-h", uri], stdout=log, stderr=log)
    try:
        _wait_until_answering(uri, process, folder / "slapd.log")
        yield Directory(uri=uri, ca_file=folder / "ca.pem")
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def directory(tmp_path_factory) -> Iterator[Directory]:
    """The test directory, started once for the session."""
    with slapd(tmp_path_factory.mktemp("slapd")) as running:
        yield running


def make_certificates(folder: Path, *, name: str = "IP:127.0.0.1") -> None:
    """ca.pem, and server.pem (for `name`, a subjectAltName) with server.key, signed by it."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    def openssl(*arguments: str | Path) -> None:
        subprocess.run(["openssl", *arguments], cwd=folder, check=True, capture_output=True, timeout=30)

    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA")
    openssl(
        "req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", f"/CN={name.partition(':')[2]}"
    )
    (folder / "server.ext").write_text(f"subjectAltName={name}\nbasicConstraints=CA:FALSE\n")
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
    )  # fmt: skip


def _wait_until_answering(uri: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    search = ["ldapsearch", "-x", "-H", uri, "-D", ADMIN_DN, "-w", ADMIN_PASSWORD, "-b", SUFFIX, "-s", "base"]
    while subprocess.run(search, capture_output=True, timeout=10).returncode != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"slapd did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
