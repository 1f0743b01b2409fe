"""`python -m d2lseg [--download]`: prepare the course data and say which data is used."""

import argparse

from .data import download_voc, resolve_voc_dir

parser = argparse.ArgumentParser(
    prog="python -m d2lseg", description="Prepare the VOC data the notebooks use."
)
parser.add_argument(
    "--download", action="store_true", help="first download the real VOC2012 (2 GB) into data/"
)
if parser.parse_args().download:
    download_voc()
resolve_voc_dir(progress=True)
