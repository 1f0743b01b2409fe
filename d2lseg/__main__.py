"""`python -m d2lseg [--download]`: prepare the course data and say which data is used."""

import argparse

from .data import DATA_DIR, _shown, download_voc, resolve_voc_dir

parser = argparse.ArgumentParser(
    prog="python -m d2lseg", description="Prepare the VOC data the notebooks use."
)
parser.add_argument(
    "--download",
    action="store_true",
    help=f"first download the real VOC2012 (2 GB) into {_shown(DATA_DIR)}, from Oxford's host "
    "or else D2L's mirror",
)
if parser.parse_args().download:
    try:
        download_voc()
    except (OSError, ValueError) as err:  # no network, a timeout, a corrupt or unsafe archive
        parser.exit(1, f"python -m d2lseg --download: {err}\n")
resolve_voc_dir(progress=True)
