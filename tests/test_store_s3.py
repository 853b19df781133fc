"""The image store on shared storage: an S3-compatible server (moto, on 127.0.0.1) and a shared folder.

Two roots with separate local folders and one store URL: an image one root stores is readable,
with its recipe, from the other; thumbnails stay in each root's own folder; a wrong, down or
tampered store is one sentence.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
from PIL import Image

from workbench.errors import InputImageError, StoreError
from workbench.store import Store, read_recipe


def _png(colour: str = "teal", size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def _bucket_keys(s3_server, url: str) -> list[str]:
    import boto3

    bucket, prefix = url.removeprefix("s3://").split("/", 1)
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1")
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_the_local_folder_stays_the_default(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("WORKBENCH_STORE", raising=False)
    store = Store.open(tmp_path / "a")
    assert not store.shared
    relative = store.put(_png(), recipe={"run_id": "r1"})
    assert store.path(relative) == tmp_path / "a" / relative
    assert store.path(relative).is_file()


def test_an_image_stored_from_one_root_is_read_from_another(tmp_path: Path, s3_store: str, s3_server):
    first = Store.open(tmp_path / "a", s3_store)
    second = Store.open(tmp_path / "b", s3_store)
    assert first.shared and second.shared
    relative = first.put(_png(), recipe={"run_id": "r1", "prompt": "a teal card"})

    assert _bucket_keys(s3_server, s3_store) == [f"team/{relative}"]
    assert (tmp_path / "a" / relative).is_file()  # the storing root keeps its own copy
    assert not (tmp_path / "b" / relative).exists()
    assert second.exists(relative)

    local = second.path(relative)  # fetched into the second root's cache
    assert local == tmp_path / "b" / relative and local.is_file()
    assert local.read_bytes() == (tmp_path / "a" / relative).read_bytes()
    assert read_recipe(local)["prompt"] == "a teal card"
    with Image.open(local) as image:
        assert image.size == (64, 48)

    thumb = second.thumbnail(relative, 32)
    with Image.open(io.BytesIO(thumb)) as image:
        assert max(image.size) == 32
    assert list((tmp_path / "b" / "thumbs" / "32").iterdir())  # thumbnails stay local
    assert all("thumbs" not in key for key in _bucket_keys(s3_server, s3_store))


def test_the_same_bytes_are_stored_once(tmp_path: Path, s3_store: str, s3_server):
    first = Store.open(tmp_path / "a", s3_store)
    second = Store.open(tmp_path / "b", s3_store)
    data = _png("orange")
    assert first.put(data, recipe={"run_id": "x"}) == second.put(data, recipe={"run_id": "x"})
    assert len(_bucket_keys(s3_server, s3_store)) == 1


def test_a_missing_image_reads_as_missing(tmp_path: Path, s3_store: str):
    store = Store.open(tmp_path / "a", s3_store)
    relative = "images/00/" + "0" * 64 + ".png"
    assert not store.exists(relative)
    assert not store.path(relative).exists()
    with pytest.raises(InputImageError, match="No image"):
        store.read(relative)


def test_a_tampered_image_is_refused(tmp_path: Path, s3_store: str, s3_server):
    import boto3

    first = Store.open(tmp_path / "a", s3_store)
    relative = first.put(_png(), recipe={"run_id": "r1"})
    bucket = s3_store.removeprefix("s3://").split("/", 1)[0]
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1")
    client.put_object(Bucket=bucket, Key=f"team/{relative}", Body=_png("red"))
    second = Store.open(tmp_path / "b", s3_store)
    with pytest.raises(StoreError, match="does not match its hash"):
        second.path(relative)
    assert not (tmp_path / "b" / relative).exists()


def test_a_shared_folder_works_as_a_store(tmp_path: Path):
    shared = tmp_path / "mount" / "team-images"
    first = Store.open(tmp_path / "a", str(shared))
    second = Store.open(tmp_path / "b", f"file://{shared}")
    relative = first.put(_png(), recipe={"run_id": "r1"})
    assert (shared / relative).is_file()
    assert second.path(relative).read_bytes() == (shared / relative).read_bytes()


def test_the_url_and_options_come_from_the_environment(tmp_path: Path, s3_store: str, monkeypatch):
    monkeypatch.setenv("WORKBENCH_STORE", s3_store)
    store = Store.open(tmp_path / "a")
    assert store.shared and store.url == s3_store
    monkeypatch.setenv("WORKBENCH_STORE_OPTIONS", "not json")
    with pytest.raises(StoreError, match="must be a JSON object"):
        Store.open(tmp_path / "a")


def test_a_wrong_store_is_one_sentence_and_writes_nothing(tmp_path: Path, s3_store: str, s3_server):
    with pytest.raises(StoreError, match="is not an image store fsspec can open: Protocol not known"):
        Store.open(tmp_path / "a", "nosuch://bucket/x")
    bucket = s3_store.removeprefix("s3://").split("/", 1)[0]
    with pytest.raises(StoreError, match="cannot be used: no-such-bucket does not exist") as caught:
        Store.open(tmp_path / "a", "s3://no-such-bucket/x")
    assert "\n" not in str(caught.value) and bucket not in str(caught.value)
    assert not (tmp_path / "a").exists()


def test_a_down_store_is_one_sentence_soon(tmp_path: Path, s3_store: str, monkeypatch):
    from _servers import free_port

    options = {
        "endpoint_url": f"http://127.0.0.1:{free_port()}",
        "config_kwargs": {"retries": {"max_attempts": 1}},
    }
    monkeypatch.setenv("WORKBENCH_STORE_OPTIONS", json.dumps(options))
    started = time.monotonic()
    with pytest.raises(StoreError, match="cannot be reached: Could not connect") as caught:
        Store.open(tmp_path / "a", "s3://bucket/x")
    assert time.monotonic() - started < 10
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "a").exists()


def test_credentials_in_a_store_url_are_never_shown(tmp_path: Path, s3_store: str):
    with pytest.raises(StoreError, match="cannot be reached") as caught:
        Store.open(tmp_path / "a", "s3://user:hunter2@bucket/x")
    assert "hunter2" not in str(caught.value)
