"""The SDK session every client of a function is built on: boto3's default session,
reading botocore's data from the copy its zip ships (docs/infrastructure.md,
"The SDK's data in each zip").

botocore's own loader lists every one of the ~400 service directories of its data
before it loads any model (once per kind of model), and parses its 1.2 MB
``endpoints.json`` whole: two thirds of a function's first client (docs/benchmarks.md,
"Session 6"). The build (scripts/build_zip.py) ships, beside the code, a copy of the
pinned botocore's data holding only the services the functions build clients for, and
of ``endpoints.json`` every partition but only those services. The loader below reads
that copy as botocore reads its own data: the same models, the same endpoint data, the
same rules, so the clients are the same clients, loaded faster.
"""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import botocore
import botocore.session
from botocore.loaders import Loader

# Written by the build into each zip; absent from a checkout, where the SDK reads its own.
DATA_DIR = Path(__file__).with_name("botocore_data")
# The version of the botocore the data was copied from, in the data directory.
VERSION_FILE = "botocore-version"


class ShippedDataLoader(Loader):
    """botocore's loader, with the shipped copy of its data in place of the data directory
    botocore bundles. botocore treats endpoint data from outside its own directory as a
    customer's endpoints and hands their legacy answer to the endpoint rules as a fixed
    endpoint; this copy is botocore's own data, so it is the loader's builtin data, and
    endpoints resolve as they do from botocore's (tests/unit/test_sdk_data.py)."""

    def __init__(self, data_dir: Path) -> None:
        # Read by Loader.__init__ (the search path: ~/.aws/models, then this) and by
        # is_builtin_path.
        self.BUILTIN_DATA_PATH = str(data_dir)
        super().__init__()


def _release(version: str) -> tuple[int, int, int] | None:
    """1.40.76 -> (1, 40, 76); None for what is not a release number."""
    found = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version.strip())
    return None if found is None else (int(found[1]), int(found[2]), int(found[3]))


def shipped_data_is_usable(data_dir: Path, session: botocore.session.Session) -> bool:
    """Whether this botocore can read the shipped data as its own. Newer botocore reads
    older models and endpoint data (what ~/.aws/models relies on); an older one may not
    know what newer models use, so it keeps its own data. A deployer's AWS_DATA_PATH
    (their own models) keeps botocore's loader too."""
    version_file = data_dir / VERSION_FILE
    if not version_file.is_file() or session.get_config_variable("data_path"):
        return False
    running, copied = _release(botocore.__version__), _release(version_file.read_text())
    # A version this cannot compare (a development build) keeps botocore's own data.
    return running is not None and copied is not None and running >= copied


def botocore_session(data_dir: Path | None = None) -> botocore.session.Session:
    """A botocore session, loading from the shipped data (by default, this zip's) where
    it can."""
    data_dir = DATA_DIR if data_dir is None else data_dir
    session = botocore.session.get_session()
    if shipped_data_is_usable(data_dir, session):
        session.register_component("data_loader", ShippedDataLoader(data_dir))
    return session


def default_session() -> boto3.Session:
    """boto3's default session (the one `boto3.client` uses), set up on the shipped data
    when nothing has set it up before."""
    if boto3.DEFAULT_SESSION is None:
        # What boto3.setup_default_session does, with this botocore session.
        boto3.DEFAULT_SESSION = boto3.Session(botocore_session=botocore_session())
    return boto3.DEFAULT_SESSION
