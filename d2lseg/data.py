"""Where the VOC data comes from: the real VOC2012 when present, else the embedded sample.

`python -m d2lseg` prepares the data (the sample, generated once) and says which is used;
`python -m d2lseg --download` fetches and extracts the real VOC2012 (2 GB) first.
"""

import hashlib
import os
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from .sample import make_sample_voc

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_DIR / "data"
REAL_VOC_DIR = DATA_DIR / "VOCdevkit" / "VOC2012"
# Bump the suffix whenever the generator's output changes, so old copies are not reused.
SAMPLE_ROOT = DATA_DIR / "sample-v1"
VOC_DIR_ENV = "D2LSEG_VOC_DIR"
# D2LSEG_DATA=sample: always the sample, which the committed notebook outputs show.
DATA_ENV = "D2LSEG_DATA"
FCN_CHECKPOINT = DATA_DIR / "fcn_resnet18.pt"  # written by notebook 05, read by notebook 06

VOC_URL = "http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar"
VOC_SHA1 = "4e443f8a2eca6b1dac8a6c57641b67dd40621a49"


def _shown(path):
    """A path relative to the project when inside it, so printed lines match across clones."""
    path = Path(path).resolve()
    return str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else str(path)


def resolve_voc_dir(voc_dir=None, progress=False):
    """Choose the VOC dir and say which in one line: `voc_dir` if given, else the embedded
    sample if the environment variable D2LSEG_DATA is "sample" (as `make test` sets it),
    else the environment variable D2LSEG_VOC_DIR, else data/VOCdevkit/VOC2012 if present,
    else the embedded sample (generated on first use, with a progress bar if `progress`).
    Never downloads."""
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


def download(url, path, sha1, chunk_size=1 << 20):
    """Stream `url` to `path` with a progress bar and check its SHA-1. The data goes to a
    temporary file that is renamed only once it is complete and verified."""
    path = Path(path)
    if path.is_file() and _sha1(path) == sha1:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with urllib.request.urlopen(url) as response, os.fdopen(fd, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=path.name) as bar:
                while chunk := response.read(chunk_size):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if digest.hexdigest() != sha1:
            raise OSError(
                f"download of {url} has SHA-1 {digest.hexdigest()}, expected {sha1}; "
                "the file is corrupt or was changed, so it was not kept"
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _escapes(member, target):
    """Why `member` would land outside `target` (resolved), or None if it stays inside."""
    path = target / member.name
    if os.path.isabs(member.name) or not path.resolve().is_relative_to(target):
        return f"member {member.name!r} is outside the target folder"
    if member.issym() or member.islnk():
        base = path.parent if member.issym() else target  # hard links are archive-relative
        link = base / member.linkname
        if os.path.isabs(member.linkname) or not link.resolve().is_relative_to(target):
            return f"link {member.name!r} -> {member.linkname!r} points outside the target folder"
    return None


def safe_extract(tar_path, target_dir):
    """Extract a tar archive into `target_dir`, refusing the whole archive if any member or
    link would land outside it; the standard library's "data" filter also refuses device
    files and strips dangerous permission bits."""
    target_dir = Path(target_dir).resolve()
    target_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tar_path) as tar:
        members = tar.getmembers()
        for member in members:
            if reason := _escapes(member, target_dir):
                raise ValueError(f"refusing to extract {tar_path}: {reason}")
        try:
            tar.extractall(target_dir, members=members, filter="data")
        except tarfile.FilterError as err:
            raise ValueError(f"refusing to extract {tar_path}: {err}") from err


def download_voc(data_dir=DATA_DIR, url=VOC_URL, sha1=VOC_SHA1):
    """Download, verify and extract the real VOC2012 under `data_dir`; return its VOC dir.

    Extraction happens in a temporary folder, moved into place when complete."""
    data_dir = Path(data_dir)
    voc_dir = data_dir / "VOCdevkit" / "VOC2012"
    if voc_dir.is_dir():
        return voc_dir
    tar_path = download(url, data_dir / Path(url).name, sha1)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".extract-") as tmp:
        safe_extract(tar_path, tmp)
        extracted = Path(tmp) / "VOCdevkit" / "VOC2012"
        if not extracted.is_dir():
            raise ValueError(f"{tar_path} has no VOCdevkit/VOC2012 folder")
        voc_dir.parent.mkdir(parents=True, exist_ok=True)
        os.replace(extracted, voc_dir)
    return voc_dir
