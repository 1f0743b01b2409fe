"""Where the VOC data comes from: the real VOC2012 when present, else the embedded sample.

`python -m d2lseg` prepares the data (the sample, generated once) and says which is used;
`python -m d2lseg --download` fetches and extracts the real VOC2012 (2 GB) first.

The data folder is `data/` in a source checkout, and a per-user cache folder for a regular
install, so that nothing is ever written into site-packages; `$D2LSEG_DATA_DIR` overrides both.
"""

import hashlib
import http.client
import os
import posixpath
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from .files import remove_leftovers, write_atomically, writing_in
from .sample import make_sample_voc

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DATA_DIR_ENV = "D2LSEG_DATA_DIR"
VOC_DIR_ENV = "D2LSEG_VOC_DIR"


def user_cache_dir(environ=os.environ, platform=sys.platform):
    """The per-user cache folder for d2lseg, as platformdirs would choose it: ~/.cache/d2lseg
    (or $XDG_CACHE_HOME/d2lseg) on Linux, ~/Library/Caches/d2lseg on macOS,
    %LOCALAPPDATA%/d2lseg on Windows."""
    if platform == "win32" and environ.get("LOCALAPPDATA"):
        return Path(environ["LOCALAPPDATA"]) / "d2lseg"
    if platform == "darwin":
        return Path.home() / "Library" / "Caches" / "d2lseg"
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]) / "d2lseg"
    return Path.home() / ".cache" / "d2lseg"


def default_data_dir(package_dir=PACKAGE_DIR, environ=os.environ):
    """The data folder: $D2LSEG_DATA_DIR if set; else `data/` beside the package when it runs
    from a source checkout (an editable install included: its parent holds pyproject.toml);
    else, for a regular install in site-packages, the per-user cache folder."""
    if environ.get(DATA_DIR_ENV):
        return Path(environ[DATA_DIR_ENV]).expanduser()
    if (Path(package_dir).parent / "pyproject.toml").is_file():
        return Path(package_dir).parent / "data"
    return user_cache_dir(environ)


DATA_DIR = default_data_dir()
REAL_VOC_DIR = DATA_DIR / "VOCdevkit" / "VOC2012"
# Bump the suffix whenever the generator's output changes, so old copies are not reused.
SAMPLE_ROOT = DATA_DIR / "sample-v1"
# D2LSEG_DATA=sample: always the sample, which the committed notebook outputs show.
DATA_ENV = "D2LSEG_DATA"
FCN_CHECKPOINT = DATA_DIR / "fcn_resnet18.pt"  # written by notebook 05, read by notebook 06

VOC_URL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
# The same archive on the D2L book's data mirror (d2l.DATA_HUB["voc2012"]), tried when the
# Oxford host fails, as it sometimes does for days.
VOC_MIRROR_URL = "http://d2l-data.s3-accelerate.amazonaws.com/VOCtrainval_11-May-2012.tar"
VOC_SHA1 = "4e443f8a2eca6b1dac8a6c57641b67dd40621a49"
TIMEOUT = 60  # seconds to wait for a connection, and for each read, before giving up
MIN_RATE = 10_000  # bytes per second, over every TIMEOUT seconds: a slower download stops


def _shown(path):
    """A path relative to the project when inside it, so printed lines match across clones."""
    path = Path(path).resolve()
    return str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else str(path)


def resolve_voc_dir(voc_dir=None, progress=False):
    """Choose the VOC dir and say which in one line: `voc_dir` if given, else the embedded
    sample if the environment variable D2LSEG_DATA is "sample" (as `make test` sets it),
    else the environment variable D2LSEG_VOC_DIR, else data/VOCdevkit/VOC2012 if present,
    else the embedded sample (generated on first use, with a progress bar if `progress`).
    Never downloads. First removes what killed runs left in the data folder."""
    remove_leftovers(DATA_DIR, SAMPLE_ROOT)
    data_choice = os.environ.get(DATA_ENV, "")
    if data_choice not in ("", "sample"):
        raise ValueError(
            f'${DATA_ENV} is {data_choice!r}: expected "sample" (use the embedded sample), '
            "or leave it unset to choose the data as usual"
        )
    sample_only = data_choice == "sample"
    if voc_dir is not None:
        chosen, why = Path(voc_dir), "given as voc_dir"
    elif not sample_only and os.environ.get(VOC_DIR_ENV):
        chosen, why = Path(os.environ[VOC_DIR_ENV]), f"from ${VOC_DIR_ENV}"
    elif not sample_only and REAL_VOC_DIR.is_dir():
        chosen, why = REAL_VOC_DIR, "the real Pascal VOC2012"
    else:
        chosen = SAMPLE_ROOT / "VOCdevkit" / "VOC2012"
        if not chosen.is_dir():
            make_sample_voc(SAMPLE_ROOT, progress=progress)
        why = "the embedded sample; see data/README.md for the real VOC2012"
    if not chosen.is_dir():
        raise FileNotFoundError(f"VOC dir {chosen} ({why}) does not exist")
    print(f"VOC data: {_shown(chosen)} ({why})")
    return chosen


def _sha1(path, chunk_size=1 << 20):
    digest = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _stream(url, out, timeout, chunk_size, desc, min_rate):
    """Copy `url` into the open file `out`; return the SHA-1 of what was copied. Fewer than
    `min_rate` bytes a second over any `timeout` seconds is a TimeoutError."""
    digest = hashlib.sha1()
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=desc) as bar:
            since, received = time.monotonic(), 0
            while chunk := response.read1(chunk_size):  # what has arrived, up to chunk_size
                out.write(chunk)
                digest.update(chunk)
                bar.update(len(chunk))
                received += len(chunk)
                seconds = time.monotonic() - since
                if seconds >= timeout:
                    if received < min_rate * seconds:
                        raise TimeoutError(
                            f"{received} bytes in {seconds:.1f} s, below the minimum rate of "
                            f"{min_rate} bytes/s"
                        )
                    since, received = time.monotonic(), 0
    return digest.hexdigest()


def _advice(path):
    return (
        f"Download it another way and save it as {path} (it is used from there), "
        f"or set ${VOC_DIR_ENV} to a VOC2012 folder you already have"
    )


def download(url, path, sha1, timeout=TIMEOUT, chunk_size=1 << 20, min_rate=MIN_RATE):
    """Stream `url` to `path` with a progress bar and check its SHA-1. The data goes to a
    temporary file that is renamed only once it is complete and verified. Waiting longer
    than `timeout` seconds to connect or for data, or fewer than `min_rate` bytes a second
    over any `timeout` seconds, is an error saying what to do instead."""
    path = Path(path)
    if path.is_file() and _sha1(path) == sha1:
        return path

    def fetch(out):
        try:
            got = _stream(url, out, timeout, chunk_size, path.name, min_rate)
        except (OSError, http.client.HTTPException) as err:  # timeouts are OSErrors
            raise OSError(f"could not download {url}: {err}. {_advice(path)}") from err
        if got != sha1:
            raise OSError(
                f"download of {url} has SHA-1 {got}, expected {sha1}; "
                "the file is corrupt or was changed, so it was not kept"
            )

    return write_atomically(path, fetch, suffix=".part")


def _checked_name(member, files, dirs):
    """The member's path parts, or ValueError unless it is a regular file or a directory
    whose normalised relative path stays inside the target and agrees with the other
    members (no file where a folder is needed). No link is ever written, so a checked path
    cannot be redirected."""
    is_file = member.isreg()
    if not (is_file or member.isdir()):
        raise ValueError(
            f"member {member.name!r} is a link or special file; only regular files and "
            "directories are extracted"
        )
    name = member.name
    if "\\" in name or ":" in name or "\0" in name or name.startswith("/"):
        raise ValueError(f"member {name!r} has an absolute or non-portable path")
    parts = tuple(part for part in posixpath.normpath(name).split("/") if part != ".")
    if not parts or ".." in parts:
        raise ValueError(f"member {name!r} is outside the target folder")
    parents = [parts[:depth] for depth in range(1, len(parts))]
    if any(parent in files for parent in parents) or parts in (dirs if is_file else files):
        raise ValueError(f"member {name!r} needs a file and a folder at the same path")
    (files if is_file else dirs).add(parts)
    dirs.update(parents)
    return parts


def safe_extract(tar_path, target_dir):
    """Extract a tar archive into `target_dir`, a new or empty folder, writing only regular
    files and directories. Every member is checked before anything is written: links,
    devices and FIFOs, absolute paths and paths with `..` refuse the whole archive.

    The standard library's extraction filters are not relied on: on Python 3.11.7 and
    others, links crafted to overflow `os.path.realpath` get past them (CVE-2025-4517)."""
    target_dir = Path(target_dir)
    if target_dir.exists() and any(target_dir.iterdir()):
        raise ValueError(f"refusing to extract {tar_path}: {target_dir} is not empty")
    try:
        tar = tarfile.open(tar_path)
    except tarfile.TarError as err:
        raise ValueError(f"{tar_path} is not a tar archive that can be read: {err}") from err
    with tar:
        members, files, dirs = [], set(), set()
        for member in tar.getmembers():
            try:
                members.append((member, _checked_name(member, files, dirs)))
            except ValueError as err:
                raise ValueError(f"refusing to extract {tar_path}: {err}") from None
        target_dir.mkdir(parents=True, exist_ok=True)
        for member, parts in members:
            dest = target_dir.joinpath(*parts)
            if member.isdir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)


def download_voc(data_dir=None, urls=(VOC_URL, VOC_MIRROR_URL), sha1=VOC_SHA1, timeout=TIMEOUT):
    """Download, verify and extract the real VOC2012 under `data_dir` (default: the data
    folder); return its VOC dir. The archive comes from the first of `urls` that delivers it
    whole with the right SHA-1 (Oxford's host, then D2L's mirror); when none does, the error
    names each failure and what to do. Extraction happens in a temporary folder, moved into
    place when complete; what a killed earlier run left behind is removed first."""
    data_dir = Path(DATA_DIR if data_dir is None else data_dir)
    voc_dir = data_dir / "VOCdevkit" / "VOC2012"
    if voc_dir.is_dir():
        return voc_dir
    remove_leftovers(data_dir)
    tar_path = data_dir / Path(urls[0]).name
    failures = []
    for url, next_url in zip(urls, [*urls[1:], None], strict=True):
        try:
            download(url, tar_path, sha1, timeout=timeout)
            break
        except OSError as err:  # the reason, without download's advice
            failures.append(f"{url}: {err.__cause__ or err}")
            if next_url:
                print(f"{failures[-1]}; trying {next_url}", file=sys.stderr)
    else:
        raise OSError(f"could not download VOC2012 ({'; '.join(failures)}). {_advice(tar_path)}")
    prefix = f".extract-pid{os.getpid()}-"  # a name remove_leftovers knows
    with writing_in(data_dir), tempfile.TemporaryDirectory(dir=data_dir, prefix=prefix) as tmp:
        safe_extract(tar_path, tmp)
        extracted = Path(tmp) / "VOCdevkit" / "VOC2012"
        if not extracted.is_dir():
            raise ValueError(f"{tar_path} has no VOCdevkit/VOC2012 folder")
        voc_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(extracted, voc_dir)
    return voc_dir
