"""OpenSSL 1.1 for the bundled Redis Stack binaries, taken from the distribution's own older release when missing."""

from __future__ import annotations

import getpass
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .errors import LabError

LIBS = ("libssl.so.1.1", "libcrypto.so.1.1")
# The newest release of each distribution that still ships libssl1.1.
OLD_RELEASE = {"debian": "bullseye", "ubuntu": "focal"}

NO_LIBSSL = ("The bundled Redis needs OpenSSL 1.1 (libssl.so.1.1), which this machine lacks and could not fetch "
             "({why}): install your distribution's libssl1.1, or set REDIS_URL to a Redis you run, or start Docker.")


def cache_dir() -> Path:
    """Where the extracted OpenSSL 1.1 libraries are kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "redis-lab" / "libssl1.1"


def missing_libs(binary: Path) -> list[str]:
    """Shared libraries that `binary` needs and the dynamic loader cannot find."""
    try:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []  # no ldd (not glibc): let the server's own start-up say what is wrong
    return re.findall(r"^\s*(\S+) => not found", out, re.M)


def library_path(binaries: list[Path]) -> str | None:
    """A folder to put on LD_LIBRARY_PATH so `binaries` find OpenSSL 1.1, or None when they need nothing."""
    needed = {lib for b in binaries for lib in missing_libs(b)}
    if not needed:
        return None
    if not needed <= set(LIBS):
        raise LabError(f"The bundled Redis needs libraries this machine lacks ({', '.join(sorted(needed))}): "
                       "set REDIS_URL to a Redis you run, or start Docker.")
    folder = cache_dir()
    if all((folder / lib).exists() for lib in LIBS):
        return str(folder)
    fetch_libssl(folder)
    return str(folder)


def os_release() -> dict[str, str]:
    """The fields of /etc/os-release."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if "=" in line:
                key, value = line.split("=", 1)
                fields[key] = value.strip().strip('"')
    except OSError:
        pass
    return fields


def apt_entry(codename: str, root: Path = Path("/")) -> tuple[str, str | None]:
    """The (URI, Signed-By keyring) of the apt source for release `codename` in `root`/etc/apt."""
    entries: list[tuple[str, list[str], str | None]] = []
    apt = root / "etc" / "apt"
    sources = apt / "sources.list.d"
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.+)$", stanza, re.M))
            if fields.get("Enabled", "yes").lower() == "no" or "deb" not in fields.get("Types", "").split():
                continue
            for uri in fields.get("URIs", "").split():
                entries.append((uri, fields.get("Suites", "").split(), fields.get("Signed-By")))
    lists = [apt / "sources.list"] + (sorted(sources.glob("*.list")) if sources.is_dir() else [])
    for path in lists:
        if not path.exists():
            continue
        for line in path.read_text().splitlines():
            m = re.match(r"^\s*deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)", line)
            if m:
                signed = re.search(r"signed-by=(\S+)", m.group(1) or "")
                entries.append((m.group(2), [m.group(3)], signed.group(1) if signed else None))
    for uri, suites, keyring in entries:
        if codename in suites:
            return uri, keyring
    raise LabError(NO_LIBSSL.format(why=f"no apt source for '{codename}' in {apt}"))


def fetch_libssl(dest: Path) -> None:
    """Download the distribution's libssl1.1 package with apt-get into private folders and extract the libraries."""
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        raise LabError(NO_LIBSSL.format(why="no apt-get on this machine"))
    release = os_release()
    family = next((d for d in [release.get("ID", "")] + release.get("ID_LIKE", "").split() if d in OLD_RELEASE), None)
    codename = release.get("VERSION_CODENAME") or release.get("UBUNTU_CODENAME")
    if family is None or not codename:
        raise LabError(NO_LIBSSL.format(why=f"{release.get('PRETTY_NAME', 'this system')} is not Debian or Ubuntu"))
    if family == "ubuntu" and release.get("UBUNTU_CODENAME"):
        codename = release["UBUNTU_CODENAME"]
    uri, keyring = apt_entry(codename)
    with tempfile.TemporaryDirectory(prefix="redis-lab-apt-") as tmp:
        work = Path(tmp)
        for sub in ("lists/partial", "cache/archives/partial", "parts", "debs"):
            (work / sub).mkdir(parents=True)
        options = f"[signed-by={keyring}] " if keyring else ""
        (work / "sources.list").write_text(f"deb {options}{uri} {OLD_RELEASE[family]} main\n")
        apt = ["apt-get", "-q",
               "-o", f"Dir::Etc::sourcelist={work / 'sources.list'}",
               "-o", f"Dir::Etc::sourceparts={work / 'parts'}",
               "-o", f"Dir::State::Lists={work / 'lists'}",
               "-o", f"Dir::Cache={work / 'cache'}",
               "-o", "APT::Get::List-Cleanup=0",
               "-o", "Debug::NoLocking=1",
               "-o", f"APT::Sandbox::User={getpass.getuser()}"]
        for step in (["update"], ["download", "libssl1.1"]):
            done = subprocess.run(apt + step, cwd=work / "debs", capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                last = (done.stderr.strip().splitlines() or ["no message"])[-1]
                raise LabError(NO_LIBSSL.format(why=f"apt-get {step[0]} failed: {last}"))
        debs = list((work / "debs").glob("libssl1.1_*.deb"))
        if not debs:
            raise LabError(NO_LIBSSL.format(why="apt-get download produced no libssl1.1 package"))
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(work / "x")], check=True, timeout=60)
        dest.mkdir(parents=True, exist_ok=True)
        for lib in LIBS:
            found = next((work / "x").rglob(lib), None)
            if found is None:
                raise LabError(NO_LIBSSL.format(why=f"{lib} is not in {debs[0].name}"))
            shutil.copy2(found, dest / lib)
