"""Which data is used, the download, and safe extraction."""

import functools
import hashlib
import http.server
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest

import d2lseg
from d2lseg import data
from d2lseg.files import LOCK_NAME


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
    voc_dir = d2lseg.download_voc(tmp_path / "data", urls=[source.as_uri()], sha1=sha1)
    assert voc_dir == tmp_path / "data" / "VOCdevkit" / "VOC2012"
    assert (voc_dir / "ImageSets/Segmentation/train.txt").read_text() == "a\n"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        LOCK_NAME,
        "VOCdevkit",
        source.name,
    ]


def test_download_with_a_wrong_checksum_leaves_nothing(tmp_path):
    source = tmp_path / "VOCtrainval.tar"
    _fake_voc_tar(source)
    target = tmp_path / "data"
    with pytest.raises(OSError, match="expected 0000.*not kept"):
        d2lseg.download_voc(target, urls=[source.as_uri()], sha1="0" * 40)
    assert [p.name for p in target.iterdir()] == [
        LOCK_NAME
    ]  # no partial file that could look complete


@pytest.fixture
def http_server(tmp_path):
    """A loopback HTTP server of the folder `served/`: its base URL (404 for missing files)."""
    served = tmp_path / "served"
    served.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=served)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}"
        server.shutdown()
        thread.join()


def test_the_mirror_is_d2ls_copy_of_the_same_archive():
    from d2l import torch as d2l

    assert d2l.DATA_HUB["voc2012"] == (data.VOC_MIRROR_URL, data.VOC_SHA1)
    assert Path(data.VOC_URL).name == Path(data.VOC_MIRROR_URL).name


@pytest.mark.parametrize("first_host", ["missing", "corrupt", "refusing"])
def test_download_voc_falls_back_to_the_mirror(http_server, tmp_path, capsys, first_host):
    sha1 = _fake_voc_tar(tmp_path / "served" / "VOCtrainval.tar")
    (tmp_path / "served" / "corrupt").mkdir()
    (tmp_path / "served" / "corrupt" / "VOCtrainval.tar").write_bytes(b"not the archive")
    with socket.socket() as closed:  # a port where nothing listens
        closed.bind(("127.0.0.1", 0))
        refusing = f"http://127.0.0.1:{closed.getsockname()[1]}/VOCtrainval.tar"
    first = {
        "missing": f"{http_server}/missing/VOCtrainval.tar",
        "corrupt": f"{http_server}/corrupt/VOCtrainval.tar",
        "refusing": refusing,
    }[first_host]
    mirror = f"{http_server}/VOCtrainval.tar"
    voc_dir = d2lseg.download_voc(tmp_path / "data", urls=[first, mirror], sha1=sha1)
    assert (voc_dir / "ImageSets/Segmentation/train.txt").read_text() == "a\n"
    why = {"missing": "404", "corrupt": "expected " + sha1, "refusing": "refused"}[first_host]
    said = capsys.readouterr().err
    assert f"{first}: " in said and why in said and f"trying {mirror}" in said
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [
        LOCK_NAME,
        "VOCdevkit",
        "VOCtrainval.tar",
    ]


def test_download_voc_says_what_to_do_when_every_host_fails(http_server, tmp_path):
    urls = [f"{http_server}/a/VOCtrainval.tar", f"{http_server}/b/VOCtrainval.tar"]
    with pytest.raises(OSError) as info:
        d2lseg.download_voc(tmp_path / "data", urls=urls, sha1="0" * 40)
    message = str(info.value)
    assert message.count("HTTP Error 404") == 2 and all(url in message for url in urls)
    assert str(tmp_path / "data" / "VOCtrainval.tar") in message and "D2LSEG_VOC_DIR" in message
    assert [p.name for p in (tmp_path / "data").iterdir()] == [LOCK_NAME]


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


def _add(tar, name, kind=tarfile.REGTYPE, linkname="", payload=None):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if payload is not None:
        info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload) if payload is not None else None)


def _realpath_overflow_tar(path, target):
    """The public shape of CVE-2025-4517: 16 directories with names long enough that, once a
    chain of symlinks to them is expanded, os.path.realpath overflows PATH_MAX and stops
    resolving; a final link through that chain then points above `target`, and a file is
    written through it. Every name and link is harmless read lexically."""
    steps = "abcdefghijklmnop"
    path_max = os.pathconf("/", "PC_PATH_MAX")
    component = "d" * ((path_max - len(str(target)) - 1) // (len(steps) + 1))
    with tarfile.open(path, "w") as tar:
        deep = ""
        for step in steps:
            _add(tar, os.path.join(deep, component), tarfile.DIRTYPE)
            _add(tar, os.path.join(deep, step), tarfile.SYMTYPE, component)
            deep = os.path.join(deep, component)
        top = os.path.join(*steps, "l" * 254)
        _add(tar, top, tarfile.SYMTYPE, os.path.join(*[".."] * len(steps)))
        _add(tar, "escape", tarfile.SYMTYPE, os.path.join(top, ".."))
        _add(tar, "escape/newfile", payload=b"written outside")


@pytest.mark.skipif(not hasattr(os, "pathconf"), reason="needs POSIX PATH_MAX")
def test_realpath_overflow_archive_writes_nothing_outside(tmp_path):
    outer = tmp_path / "outer"
    outer.mkdir()
    target = outer / "target"
    tar_path = tmp_path / "overflow.tar"
    _realpath_overflow_tar(tar_path, target)
    try:
        data.safe_extract(tar_path, target)
    except ValueError as err:
        refusal = str(err)
    else:
        refusal = "extracted"
    assert sorted(p.name for p in outer.iterdir()) in ([], ["target"])  # no "newfile" here
    assert "is a link or special file" in refusal
    assert not target.exists()


def _special(name, kind, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info, None


@pytest.mark.parametrize(
    "member",
    [
        _link("VOCdevkit/inside", "ok.txt"),
        _link("VOCdevkit/hard", "VOCdevkit/ok.txt", kind=tarfile.LNKTYPE),
        _special("VOCdevkit/null", tarfile.CHRTYPE),
        _special("VOCdevkit/disk", tarfile.BLKTYPE),
        _special("VOCdevkit/fifo", tarfile.FIFOTYPE),
    ],
    ids=["symlink-inside", "hardlink-inside", "char-device", "block-device", "fifo"],
)
def test_extraction_writes_only_regular_files_and_folders(tmp_path, member):
    tar_path = tmp_path / "links.tar"
    tar_path.write_bytes(_tar_bytes([_file("VOCdevkit/ok.txt"), member, _file("later.txt")]))
    target = tmp_path / "target"
    with pytest.raises(ValueError, match="is a link or special file"):
        data.safe_extract(tar_path, target)
    assert not target.exists()  # every member is checked before anything is written


@pytest.mark.parametrize(
    "members",
    [
        [_file("a"), _file("a/b")],
        [_file("a/b"), _file("a")],
        [_file("a"), (tarfile.TarInfo("a"), None)],
        [_file("x/../../up.txt")],
        [_file("C:/windows.txt")],
        [_file("back\\slash.txt")],
    ],
    ids=[
        "file-then-inside",
        "inside-then-file",
        "file-and-folder",
        "dotdot-inside",
        "drive",
        "backslash",
    ],
)
def test_extraction_refuses_inconsistent_or_non_portable_paths(tmp_path, members):
    if members[-1][1] is None:
        members[-1][0].type = tarfile.DIRTYPE
    tar_path = tmp_path / "odd.tar"
    tar_path.write_bytes(_tar_bytes(members))
    with pytest.raises(ValueError, match=f"refusing to extract {tar_path}"):
        data.safe_extract(tar_path, tmp_path / "target")
    assert not (tmp_path / "target").exists() and not (tmp_path / "up.txt").exists()


def test_extraction_into_a_folder_that_is_not_empty_is_refused(tmp_path):
    tar_path = tmp_path / "ok.tar"
    tar_path.write_bytes(_tar_bytes([_file("a.txt")]))
    (tmp_path / "target").mkdir()
    (tmp_path / "target" / "old.txt").write_text("old")
    with pytest.raises(ValueError, match="is not empty"):
        data.safe_extract(tar_path, tmp_path / "target")


def test_a_file_that_is_not_a_tar_archive(tmp_path):
    path = tmp_path / "VOCtrainval.tar"
    path.write_bytes(b"<html>proxy login</html>")
    with pytest.raises(ValueError, match=f"{path} is not a tar archive that can be read"):
        data.safe_extract(path, tmp_path / "target")


def test_extraction_of_files_and_folders(tmp_path):
    folder = tarfile.TarInfo("VOCdevkit/empty")
    folder.type = tarfile.DIRTYPE
    tar_path = tmp_path / "ok.tar"
    tar_path.write_bytes(
        _tar_bytes([_file("./VOCdevkit/a/b.txt", b"bee"), (folder, None), _file("top", b"t")])
    )
    data.safe_extract(tar_path, tmp_path / "target")
    target = tmp_path / "target"
    found = sorted(str(p.relative_to(target)) for p in target.rglob("*"))
    assert found == ["VOCdevkit", "VOCdevkit/a", "VOCdevkit/a/b.txt", "VOCdevkit/empty", "top"]
    assert (tmp_path / "target/VOCdevkit/a/b.txt").read_bytes() == b"bee"


@pytest.fixture
def silent_server():
    """A loopback server that accepts connections (the kernel completes the handshake) and
    never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        yield f"http://127.0.0.1:{server.getsockname()[1]}/VOCtrainval.tar"


def test_download_times_out_with_advice(silent_server, tmp_path):
    path = tmp_path / "data" / "VOCtrainval.tar"
    start = time.monotonic()
    with pytest.raises(OSError) as info:
        data.download(silent_server, path, "0" * 40, timeout=0.2)
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert silent_server in message and str(path) in message and "D2LSEG_VOC_DIR" in message
    assert "timed out" in message
    assert [p.name for p in (tmp_path / "data").iterdir()] == [LOCK_NAME]  # no .part left


def test_download_voc_passes_the_timeout_on(silent_server, tmp_path):
    with pytest.raises(
        OSError,
        match=r"could not download VOC2012 \(http://127.0.0.1:\d+/VOCtrainval.tar: timed out\)",
    ):
        d2lseg.download_voc(tmp_path, urls=[silent_server], sha1="0" * 40, timeout=0.2)


def test_resolve_voc_dir_removes_leftovers(voc_dir, no_real_voc, monkeypatch, capsys):
    monkeypatch.setattr(data, "DATA_DIR", no_real_voc)
    leftover = no_real_voc / "sample" / ".sample-pid12-abcd_123"
    leftover.mkdir(parents=True)
    d2lseg.resolve_voc_dir(voc_dir)
    assert not leftover.exists()
    capsys.readouterr()


def test_data_folder_of_a_source_checkout_and_of_an_install(tmp_path):
    checkout, site = tmp_path / "checkout", tmp_path / "site-packages"
    for root in (checkout, site):
        (root / "d2lseg").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\n")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert data.default_data_dir(checkout / "d2lseg", env) == checkout / "data"
    assert data.default_data_dir(site / "d2lseg", env) == tmp_path / "cache" / "d2lseg"
    env[data.DATA_DIR_ENV] = str(tmp_path / "mine")
    for root in (checkout, site):
        assert data.default_data_dir(root / "d2lseg", env) == tmp_path / "mine"


def test_user_cache_dir_per_platform(tmp_path, monkeypatch):
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    assert data.user_cache_dir({}, "linux") == tmp_path / ".cache" / "d2lseg"
    assert data.user_cache_dir({"XDG_CACHE_HOME": "/x"}, "linux") == Path("/x/d2lseg")
    assert data.user_cache_dir({}, "darwin") == tmp_path / "Library" / "Caches" / "d2lseg"
    assert data.user_cache_dir({"LOCALAPPDATA": "/w"}, "win32") == Path("/w/d2lseg")


def test_an_installed_copy_writes_nothing_into_site_packages(tmp_path):
    """Import a copy of the package from a folder without pyproject.toml beside it, as pip
    installs it, and ask it where its data and checkpoint go."""
    site = tmp_path / "site-packages"
    shutil.copytree(Path(d2lseg.__file__).parent, site / "d2lseg")
    env = {k: v for k, v in os.environ.items() if k not in (data.DATA_DIR_ENV, "PYTHONPATH")}
    env |= {"PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    code = "import d2lseg.data as d; print(d.__file__, d.DATA_DIR, d.SAMPLE_ROOT, d.FCN_CHECKPOINT)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    cache = tmp_path / "cache" / "d2lseg"
    assert out == [
        str(site / "d2lseg" / "data.py"),
        str(cache),
        str(cache / "sample-v1"),
        str(cache / "fcn_resnet18.pt"),
    ]


def test_this_source_checkout_uses_its_data_folder():
    checkout = Path(d2lseg.__file__).resolve().parent.parent
    assert (checkout / "pyproject.toml").is_file()
    assert data.default_data_dir(environ={}) == checkout / "data"
    assert data.FCN_CHECKPOINT == data.DATA_DIR / "fcn_resnet18.pt"


@pytest.fixture
def trickling_server():
    """A loopback HTTP server that sends its headers, then one byte every 50 ms, forever."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve():
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
            while not stop.wait(0.05):
                try:
                    connection.sendall(b"x")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/VOCtrainval.tar"
    stop.set()
    thread.join()
    server.close()


def test_a_trickling_download_stops_at_the_minimum_rate(trickling_server, tmp_path):
    path = tmp_path / "VOCtrainval.tar"
    start = time.monotonic()
    with pytest.raises(OSError, match=r"below the minimum rate of 10000 bytes/s") as info:
        data.download(trickling_server, path, "0" * 40, timeout=0.5)
    assert time.monotonic() - start < 5 and str(path) in str(info.value)
    assert not path.exists()
