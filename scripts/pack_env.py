"""Build the package's wheel and a packed Python environment for cluster executors.

    .venv/bin/python scripts/pack_env.py [--out build/cluster] [--with-pyspark] [--force]

Prints the path of the packed environment (a .tar.gz made by venv-pack) on its last line; ship
it with `spark-submit --archives PATH#environment --conf spark.pyspark.python=./environment/bin/python`
(docs/cluster.md). Steps:

1. wheel: `pip wheel --no-deps` of a copy of the checkout's files (those git tracks, and new
   ones it does not ignore), so a build never touches the checkout's own build/ folder;
   SOURCE_DATE_EPOCH is fixed, so the same sources give the same wheel. The wheel carries
   rules/ and models/ to <prefix>/share/corpus (setup.cfg, data_files), where corpus.config
   finds them when the package is not an editable install.
2. environment: a fresh virtualenv of this Python (same version, same path: venv-pack does not
   copy the interpreter, so executors need the same Python at the same place, as on a cluster
   built from one image) with the wheel's requirements, then the wheel itself (non-editable).
   No extras (no torch, no dev tools). pyspark is left out unless --with-pyspark: executors
   import the pyspark of the Spark installation that runs them (SPARK_HOME/python/lib/pyspark.zip
   comes first on their PYTHONPATH), and it is ~450 MB.
3. pack: venv-pack into OUT/corpus-env-KEY.tar.gz, KEY a hash of the wheel's contents, its
   requirements, the Python version and the options. An existing file with that key is reused
   (the first build downloads and installs the requirements: a few minutes).

The wheel is also left in OUT/dist/ for `--py-files`-less setups that `pip install` it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_FILES = ("setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in")
BUILD_DIRS = ("corpus", "rules", "models")
LEFT_OUT = {"pyspark", "py4j"}


def log(msg: str) -> None:
    print(f"[pack_env] {msg}", file=sys.stderr, flush=True)


def source_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                         cwd=REPO, check=True, capture_output=True).stdout.decode()
    return sorted(p for p in out.split("\0") if p and (p in BUILD_FILES or p.split("/")[0] in BUILD_DIRS)
                  and "__pycache__" not in p and (REPO / p).is_file())


def build_wheel(dist: Path) -> Path:
    """The project's wheel, built from a copy of its sources, in `dist` (older ones removed)."""
    dist.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="corpus-wheel-") as tmp:
        src = Path(tmp) / "src"
        for rel in source_files():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, src / rel)
        out = Path(tmp) / "dist"
        env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "-q", "-w", str(out), str(src)], check=True, env=env)
        (wheel,) = out.glob("corpus-*.whl")
        for old in dist.glob("corpus-*.whl"):
            old.unlink()
        return Path(shutil.copy2(wheel, dist / wheel.name))


def requirements(wheel: Path) -> list[str]:
    """The wheel's install requirements (Requires-Dist without an extra marker)."""
    with zipfile.ZipFile(wheel) as z:
        (meta,) = [n for n in z.namelist() if n.endswith(".dist-info/METADATA")]
        text = z.read(meta).decode()
    reqs = []
    for line in text.splitlines():
        if line.startswith("Requires-Dist:"):
            req = line.split(":", 1)[1].strip()
            if "extra ==" not in req:
                reqs.append(req)
    return reqs


def content_key(wheel: Path, reqs: list[str], options: str) -> str:
    """A hash of what the environment holds: the wheel's members (not the zip's bytes), the
    requirements, this Python's version and the options."""
    h = hashlib.sha256()
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            h.update(name.encode() + b"\0" + hashlib.sha256(z.read(name)).digest())
    h.update("\n".join(reqs).encode())
    h.update(f"{sys.version}\0{options}".encode())
    return h.hexdigest()[:16]


def req_name(req: str) -> str:
    name = req.split(";")[0].strip()
    for sep in "<>=!~[ (":
        name = name.split(sep)[0]
    return name.lower().replace("_", "-")


def make_env(target: Path, wheel: Path, reqs: list[str]) -> None:
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(target)], check=True)
    pip = [str(target / "bin" / "python"), "-m", "pip", "install", "-q",
           "--disable-pip-version-check"]
    if reqs:
        subprocess.run(pip + reqs, check=True)
    subprocess.run(pip + ["--no-deps", str(wheel)], check=True)
    # what executors import must load: the package and the libraries its stages use
    probe = ("import corpus, corpus.config, pyarrow, pandas, fastwarc, resiliparse, fasttext, "
             "sentencepiece; print(corpus.config.PROJECT_DIR)")
    where = subprocess.run([str(target / "bin" / "python"), "-c", probe], check=True,
                           capture_output=True, text=True, cwd="/").stdout.strip()
    if Path(where).resolve() != (target / "share" / "corpus").resolve():
        raise SystemExit(f"the packed environment finds rules/ at {where}, not in its share/corpus")


def pack(out: Path, with_pyspark: bool = False, force: bool = False) -> Path:
    """The packed environment's path, built if no cached one matches (see the module docstring)."""
    import time

    started = time.monotonic()
    wheel = build_wheel(out / "dist")
    reqs = [r for r in requirements(wheel) if with_pyspark or req_name(r) not in LEFT_OUT]
    key = content_key(wheel, reqs, f"pyspark={with_pyspark}")
    archive = out / f"corpus-env-{key}.tar.gz"
    if archive.is_file() and not force:
        log(f"reusing {archive} (wheel {wheel.name}, {time.monotonic() - started:.1f} s)")
        return archive
    with tempfile.TemporaryDirectory(prefix="corpus-env-", dir=out) as tmp:
        env_dir = Path(tmp) / "env"
        log(f"building the executor environment from {wheel.name} ({len(reqs)} requirements)")
        make_env(env_dir, wheel, reqs)
        partial = Path(tmp) / archive.name
        venv_pack = Path(sys.executable).with_name("venv-pack")
        if not venv_pack.exists():
            raise SystemExit("venv-pack is not installed (pip install venv-pack)")
        subprocess.run([str(venv_pack), "-q", "-p", str(env_dir), "-o", str(partial)], check=True)
        for old in out.glob("corpus-env-*.tar.gz"):  # one environment kept: they are big
            old.unlink()
        os.replace(partial, archive)
    log(f"packed {archive} ({archive.stat().st_size / 2**20:.0f} MiB) "
        f"in {time.monotonic() - started:.0f} s")
    return archive


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(REPO / "build" / "cluster"), help="where the wheel and the archive go")
    p.add_argument("--with-pyspark", action="store_true", help="install pyspark in the environment too")
    p.add_argument("--force", action="store_true", help="rebuild the environment even if a cached one matches")
    a = p.parse_args()
    print(pack(Path(a.out).resolve(), a.with_pyspark, a.force))


if __name__ == "__main__":
    main()
