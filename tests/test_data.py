"""Which data is used, the download, and safe extraction."""

import hashlib
import io
import shutil
import tarfile

import pytest

import d2lseg
from d2lseg import data


@pytest.fixture
def no_real_voc(tmp_path, monkeypatch):
    """Point the resolver's defaults at an empty data dir and clear the environment."""
    monkeypatch.delenv(data.VOC_DIR_ENV, raising=False)
    monkeypatch.delenv(data.DATA_ENV, raising=False)  # `make test` sets it
    monkeypatch.setattr(data, "REAL_VOC_DIR", tmp_path / "VOCdevkit" / "VOC2012")
    monkeypatch.setattr(data, "SAMPLE_ROOT", tmp_path / "sample")
    return tmp_path


def test_explicit_argument_wins(voc_dir, no_real_voc, monkeypatch, capsys):
    monkeypatch.setenv(data.VOC_DIR_ENV, str(no_real_voc / "elsewhere"))
    assert d2lseg.resolve_voc_dir(voc_dir) == voc_dir
    assert capsys.readouterr().out == f"VOC data: {voc_dir} (given as voc_dir)\n"


def test_environment_variable_next(voc_dir, no_real_voc, monkeypatch, capsys):
    monkeypatch.setenv(data.VOC_DIR_ENV, str(voc_dir))
    assert d2lseg.resolve_voc_dir() == voc_dir
    assert "from $D2LSEG_VOC_DIR" in capsys.readouterr().out


def test_real_voc_before_the_sample(no_real_voc, capsys):
    data.REAL_VOC_DIR.mkdir(parents=True)
    assert d2lseg.resolve_voc_dir() == data.REAL_VOC_DIR
    assert "the real Pascal VOC2012" in capsys.readouterr().out


def test_sample_generated_once_when_nothing_else(no_real_voc, monkeypatch, capsys):
    calls = []

    def fake_make_sample_voc(root, progress=False):
        calls.append(root)
        (root / "VOCdevkit" / "VOC2012").mkdir(parents=True)

    monkeypatch.setattr(data, "make_sample_voc", fake_make_sample_voc)
    first = d2lseg.resolve_voc_dir()
    second = d2lseg.resolve_voc_dir()
    assert first == second == data.SAMPLE_ROOT / "VOCdevkit" / "VOC2012"
    assert calls == [data.SAMPLE_ROOT]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0] == lines[1] and "embedded sample" in lines[0]


def test_missing_directory_is_named(no_real_voc, monkeypatch):
    missing = no_real_voc / "missing"
    with pytest.raises(FileNotFoundError, match=f"VOC dir {missing} \\(given as voc_dir\\)"):
        d2lseg.resolve_voc_dir(missing)
    monkeypatch.setenv(data.VOC_DIR_ENV, str(missing))
    with pytest.raises(FileNotFoundError, match="from \\$D2LSEG_VOC_DIR"):
        d2lseg.resolve_voc_dir()


SAMPLE_LINE = "VOC data: {} (the embedded sample; see data/README.md for the real VOC2012)\n"


@pytest.fixture
def sample_and_rivals(voc_dir, no_real_voc, monkeypatch):
    """The sample in place, plus a VOC-format folder where the real VOC2012 goes and another
    one in $D2LSEG_VOC_DIR: the two choices that come before the sample."""
    monkeypatch.setattr(data, "SAMPLE_ROOT", voc_dir.parent.parent)
    shutil.copytree(voc_dir, data.REAL_VOC_DIR)
    env_dir = shutil.copytree(voc_dir, no_real_voc / "elsewhere" / "VOC2012")
    return voc_dir, env_dir


@pytest.mark.parametrize("rivals", ["real", "env", "both"])
def test_data_sample_ignores_real_voc_and_environment(
    sample_and_rivals, rivals, monkeypatch, capsys
):
    sample_dir, env_dir = sample_and_rivals
    if rivals == "real":
        monkeypatch.delenv(data.VOC_DIR_ENV, raising=False)
    else:
        monkeypatch.setenv(data.VOC_DIR_ENV, str(env_dir))
    if rivals == "env":
        shutil.rmtree(data.REAL_VOC_DIR)
    rival = env_dir if rivals != "real" else data.REAL_VOC_DIR
    assert d2lseg.resolve_voc_dir() == rival  # without D2LSEG_DATA a rival wins
    capsys.readouterr()
    monkeypatch.setenv(data.DATA_ENV, "sample")
    assert d2lseg.resolve_voc_dir() == sample_dir
    assert capsys.readouterr().out == SAMPLE_LINE.format(sample_dir)


def test_data_sample_prints_the_usual_sample_line(sample_and_rivals, monkeypatch, capsys):
    sample_dir, _ = sample_and_rivals
    shutil.rmtree(data.REAL_VOC_DIR)
    assert d2lseg.resolve_voc_dir() == sample_dir  # nothing else there: the sample anyway
    usual = capsys.readouterr().out
    monkeypatch.setenv(data.DATA_ENV, "sample")
    d2lseg.resolve_voc_dir()
    assert capsys.readouterr().out == usual == SAMPLE_LINE.format(sample_dir)


def test_data_sample_still_lets_an_explicit_voc_dir_win(sample_and_rivals, monkeypatch):
    _, env_dir = sample_and_rivals
    monkeypatch.setenv(data.DATA_ENV, "sample")
    assert d2lseg.resolve_voc_dir(env_dir) == env_dir


def test_data_sample_loads_the_sample(sample_and_rivals, monkeypatch):
    sample_dir, env_dir = sample_and_rivals
    (env_dir / "ImageSets" / "Segmentation" / "train.txt").write_text("")  # tell them apart
    monkeypatch.setenv(data.VOC_DIR_ENV, str(env_dir))
    monkeypatch.setenv(data.DATA_ENV, "sample")
    train_iter, _ = d2lseg.load_data_voc(4, (64, 96), num_workers=0)
    assert len(train_iter.dataset) == 20


def test_data_with_another_value_is_refused_before_any_work(no_real_voc, monkeypatch):
    monkeypatch.setattr(data, "make_sample_voc", lambda *args, **kwargs: pytest.fail("generated"))
    monkeypatch.setenv(data.DATA_ENV, "real")
    with pytest.raises(ValueError, match="D2LSEG_DATA is 'real': expected \"sample\""):
        d2lseg.resolve_voc_dir()


def _tar_bytes(members):
    """A tar archive in memory from (TarInfo, payload or None) pairs."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, payload in members:
            if payload is not None:
                info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload) if payload is not None else None)
    return buffer.getvalue()


def _file(name, payload=b"x"):
    return tarfile.TarInfo(name), payload


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def _fake_voc_tar(path):
    path.write_bytes(
        _tar_bytes(
            [
                _file("VOCdevkit/VOC2012/ImageSets/Segmentation/train.txt", b"a\n"),
                _file("VOCdevkit/VOC2012/JPEGImages/a.jpg"),
            ]
        )
    )
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_download_voc_from_a_verified_archive(tmp_path):
    source = tmp_path / "VOCtrainval.tar"
    sha1 = _fake_voc_tar(source)
    voc_dir = d2lseg.download_voc(tmp_path / "data", url=source.as_uri(), sha1=sha1)
    assert voc_dir == tmp_path / "data" / "VOCdevkit" / "VOC2012"
    assert (voc_dir / "ImageSets/Segmentation/train.txt").read_text() == "a\n"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["VOCdevkit", source.name]


def test_download_with_a_wrong_checksum_leaves_nothing(tmp_path):
    source = tmp_path / "VOCtrainval.tar"
    _fake_voc_tar(source)
    target = tmp_path / "data"
    with pytest.raises(OSError, match="expected 0000.*not kept"):
        d2lseg.download_voc(target, url=source.as_uri(), sha1="0" * 40)
    assert list(target.iterdir()) == []  # no partial file that could look complete


@pytest.mark.parametrize(
    "member",
    [
        _file("../escape.txt"),
        _file("/tmp/absolute.txt"),
        _link("VOCdevkit/link", "../../outside"),
        _link("VOCdevkit/link", "/etc/passwd"),
        _link("VOCdevkit/hard", "../outside", kind=tarfile.LNKTYPE),
    ],
    ids=["dotdot", "absolute", "symlink-out", "symlink-absolute", "hardlink-out"],
)
def test_extraction_refuses_members_that_escape(tmp_path, member):
    tar_path = tmp_path / "evil.tar"
    tar_path.write_bytes(_tar_bytes([_file("VOCdevkit/ok.txt"), member]))
    target = tmp_path / "target"
    with pytest.raises(ValueError, match=f"refusing to extract {tar_path}"):
        data.safe_extract(tar_path, target)
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "outside").exists()
