"""The copy of botocore's data each zip ships (scripts/build_zip.py) and the loader that
reads it (banking.entrypoints.sdk): the same clients as from botocore's own data, built
without listing botocore's service directories."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import botocore
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import Loader

from banking.entrypoints import bootstrap, sdk
from scripts.build_zip import (
    SDK_DATA_DIR,
    SDK_SERVICES,
    botocore_data_files,
    botocore_of,
)

BOTOCORE_DATA = Path(Loader.BUILTIN_DATA_PATH)
# One call per service that needs no parameter.
OPERATIONS = {"dynamodb": "list_tables", "events": "list_event_buses"}


def _client(session: boto3.Session, service: str, **options: Any) -> Any:
    # The stubs type a client by its service's literal name; these are named at run time.
    return cast(Any, session).client(
        service, aws_access_key_id="testing", aws_secret_access_key="testing", **options
    )


def _write(files: dict[str, Path], root: Path) -> Path:
    for name, path in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, root / name)
    return root / SDK_DATA_DIR


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data directory a zip ships, built from this environment's (pinned) botocore."""
    scratch = tmp_path_factory.mktemp("sdk-data")
    files = botocore_data_files(*botocore_of(sys.executable), SDK_SERVICES, scratch)
    return _write(files, scratch / "zip")


@pytest.fixture
def sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DATA_PATH", "AWS_ENDPOINT_URL", "AWS_USE_FIPS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_USE_DUALSTACK_ENDPOINT", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.content


def _what_is_sent(
    session: boto3.Session, service: str, region: str, config: Config
) -> dict[str, str]:
    """Where a client's first call goes and how it is signed, or the error it meets."""
    sent: dict[str, str] = {}

    def answer(request: Any, **_: Any) -> AWSResponse:
        # Credential=<key>/<date>/<region>/<service>/aws4_request, SignedHeaders=...
        authorization = request.headers["Authorization"].decode()
        scope = authorization.split("Credential=")[1].split(",")[0].split("/")[2:4]
        sent.update(
            url=request.url,
            scope="/".join(scope),
            signed=authorization.split("SignedHeaders=")[1].split(",")[0],
            agent=request.headers["User-Agent"].decode(),
        )
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.1"
        return AWSResponse(request.url, 200, headers, _Body(b"{}"))

    try:
        client = _client(session, service, region_name=region, config=config)
        client.meta.events.register("before-send", answer)
        getattr(client, OPERATIONS[service])()
    except (BotoCoreError, ClientError) as error:
        return {"error": f"{type(error).__name__}: {error}"}
    return sent


def _regions(service_prefix: str) -> list[str]:
    """Every region of every partition botocore knows, the service's own endpoint names
    (FIPS and legacy ones included), and per partition a region it does not know yet."""
    endpoints = json.loads((BOTOCORE_DATA / "endpoints.json").read_text())
    partitions = json.loads((BOTOCORE_DATA / "partitions.json").read_text())
    regions: set[str] = set()
    for partition in endpoints["partitions"]:
        known = sorted(partition["regions"])
        regions.update(known)
        regions.update(partition["services"].get(service_prefix, {}).get("endpoints", {}))
        if known:
            regions.add(re.sub(r"\d+$", "9", known[0]))
    for partition in partitions["partitions"]:
        regions.update(partition["regions"])
    return sorted(regions)


@pytest.mark.parametrize("service", SDK_SERVICES)
def test_every_region_of_every_partition_resolves_the_same_endpoint_from_the_shipped_data(
    service, shipped, sdk_environment
):
    # GIVEN a session on botocore's own data and one on the copy a zip ships
    own = boto3.Session(botocore_session=botocore.session.get_session())
    copy = boto3.Session(botocore_session=sdk.botocore_session(shipped))
    assert isinstance(copy._session.get_component("data_loader"), sdk.ShippedDataLoader)
    prefix = _client(own, service, region_name="us-east-1").meta.service_model
    regions = _regions(prefix.endpoint_prefix)
    assert len(regions) > 40
    for region, fips, dualstack in itertools.product(regions, (False, True), (False, True)):
        config = Config(use_fips_endpoint=fips, use_dualstack_endpoint=dualstack)
        # WHEN a client of each makes its first call in that region, with those flags
        expected = _what_is_sent(own, service, region, config)
        actual = _what_is_sent(copy, service, region, config)
        # THEN both send it to the same URL, signed for the same region and service, with
        # the same user agent (or both meet the same error)
        assert actual == expected, (region, fips, dualstack)


def test_the_first_clients_never_list_botocore_s_own_data(shipped, sdk_environment, monkeypatch):
    # GIVEN a session on the shipped data, and every directory listed from now on
    session = boto3.Session(botocore_session=sdk.botocore_session(shipped))
    listed: list[str] = []
    listdir = os.listdir

    def recording(path: Any = ".") -> list[str]:
        listed.append(str(path))
        return listdir(path)

    monkeypatch.setattr(os, "listdir", recording)
    # WHEN a client of every shipped service is built
    for service in SDK_SERVICES:
        _client(session, service)
    # THEN the models came from the shipped copy, and botocore's data directory was
    # never listed (its ~400 service directories, once per kind of model)
    assert any(path.startswith(str(shipped)) for path in listed)
    assert not [path for path in listed if path.startswith(str(BOTOCORE_DATA))]


def test_every_client_the_wiring_builds_loads_from_the_shipped_data(
    shipped, sdk_environment, monkeypatch
):
    # GIVEN the shipped data where a zip has it, and no default session yet
    monkeypatch.setattr(sdk, "DATA_DIR", shipped)
    builders: list[Callable[[], Any]] = [
        builder
        for name, builder in vars(bootstrap).items()
        if name.endswith("_client") and callable(builder)
    ]
    assert len(builders) >= 2
    # WHEN the wiring builds each of its clients
    clients = [builder() for builder in builders]
    # THEN each is built (a service the copy lacks would raise UnknownServiceError), on
    # boto3's default session, which loads from the shipped data
    assert boto3.DEFAULT_SESSION is not None
    loader = boto3.DEFAULT_SESSION._session.get_component("data_loader")
    assert isinstance(loader, sdk.ShippedDataLoader)
    assert sorted(c.meta.service_model.service_name for c in clients) == sorted(SDK_SERVICES)


@pytest.mark.parametrize("copied", ["99.0.0", "1.99.0", "1.40.999", "1.40.dev0", ""])
def test_a_botocore_older_than_the_shipped_data_keeps_its_own(
    copied, shipped, sdk_environment, tmp_path
):
    # GIVEN shipped data copied from a botocore newer than the one running (or from one
    # whose version cannot be compared)
    newer = tmp_path / "botocore_data"
    shutil.copytree(shipped, newer)
    (newer / sdk.VERSION_FILE).write_text(copied + "\n")
    # WHEN a session is set up on it
    session = sdk.botocore_session(newer)
    # THEN it loads botocore's own data, which this botocore knows how to read
    assert type(session.get_component("data_loader")) is Loader


@pytest.mark.parametrize("copied", ["1.40.0", "1.39.99", "0.99.99"])
def test_a_botocore_newer_than_the_shipped_data_reads_it(
    copied, shipped, sdk_environment, tmp_path
):
    # GIVEN shipped data copied from a botocore older than the one running
    older = tmp_path / "botocore_data"
    shutil.copytree(shipped, older)
    (older / sdk.VERSION_FILE).write_text(copied + "\n")
    # WHEN a session is set up on it  THEN it loads from the copy
    session = sdk.botocore_session(older)
    assert isinstance(session.get_component("data_loader"), sdk.ShippedDataLoader)


def test_a_deployer_s_own_data_path_keeps_botocore_s_loader(shipped, sdk_environment, monkeypatch):
    # GIVEN AWS_DATA_PATH naming a deployer's own models
    monkeypatch.setenv("AWS_DATA_PATH", "/opt/models")
    # WHEN a session is set up  THEN botocore's loader reads them, as it would anywhere
    loader = sdk.botocore_session(shipped).get_component("data_loader")
    assert type(loader) is Loader
    assert "/opt/models" in loader.search_paths


def test_a_checkout_without_shipped_data_uses_botocore_s_own(sdk_environment, tmp_path):
    # GIVEN no data directory (a checkout, not a zip)  WHEN a session is set up
    session = sdk.botocore_session(tmp_path / "botocore_data")
    # THEN botocore's loader reads its own data
    assert type(session.get_component("data_loader")) is Loader


def test_the_shipped_endpoints_keep_every_partition_with_only_the_services_used(shipped):
    # GIVEN botocore's endpoint data and the copy shipped
    own = json.loads((BOTOCORE_DATA / "endpoints.json").read_text())
    copy = json.loads((shipped / "endpoints.json").read_text())
    # THEN every partition is there with all it says but the other services' entries
    assert [p["partition"] for p in copy["partitions"]] == [
        p["partition"] for p in own["partitions"]
    ]
    for theirs, ours in zip(own["partitions"], copy["partitions"], strict=True):
        assert {k: v for k, v in ours.items() if k != "services"} == {
            k: v for k, v in theirs.items() if k != "services"
        }
        assert ours["services"] == {name: theirs["services"][name] for name in ours["services"]}
        assert set(ours["services"]) <= set(SDK_SERVICES)
    assert copy["version"] == own["version"]
    # AND each model is botocore's, byte for byte, from the newest API version
    model = shipped / "dynamodb" / "2012-08-10" / "service-2.json.gz"
    assert model.read_bytes() == (BOTOCORE_DATA / model.relative_to(shipped)).read_bytes()
    assert json.loads(gzip.decompress(model.read_bytes()))["metadata"]["apiVersion"]
    assert (shipped / sdk.VERSION_FILE).read_text().strip() == botocore.__version__


def test_the_shipped_data_is_the_same_bytes_from_two_builds(shipped, tmp_path):
    # GIVEN the data a second build writes
    files = botocore_data_files(*botocore_of(sys.executable), SDK_SERVICES, tmp_path)
    again = _write(files, tmp_path / "zip")
    # THEN it is the same, file for file
    names = sorted(p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in names:
        assert (shipped / name).read_bytes() == (again / name).read_bytes(), name
