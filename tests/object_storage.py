"""A real S3-compatible server for the tests: moto's server mode on loopback, one bucket.

`s3_server` (session) starts it and creates the bucket; `s3_storage` makes Django's default storage
django-storages' S3Storage on that bucket for one test and empties the bucket afterwards;
`s3_env` gives the environment variables a process started by a test (a web node, a Celery worker)
needs to keep its originals in the same bucket. Credentials are dummies and the endpoint is always
explicit, so nothing reaches the internet.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

S3_STORAGE = "storages.backends.s3.S3Storage"
BUCKET = "kbchat-test-originals"
REGION = "us-east-1"
# Dummy credentials, given explicitly so that botocore never looks for real ones (files, instance
# metadata) and never signs with anything that could work elsewhere.
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str

    def storage_options(self) -> dict[str, Any]:
        """S3Storage's options for this server's bucket (FILE_STORAGE_OPTIONS' JSON object)."""
        return {
            "bucket_name": self.bucket,
            "endpoint_url": self.endpoint_url,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
            "region_name": REGION,
            "addressing_style": "path",
        }

    def env(self) -> dict[str, str]:
        """The environment variables that point a separately started app process at this bucket."""
        return {
            "FILE_STORAGE_BACKEND": S3_STORAGE,
            "FILE_STORAGE_OPTIONS": json.dumps(self.storage_options()),
            # Belt and braces: no instance-metadata lookups, even if a credential went missing.
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self):
        """A boto3 S3 client on this server, to look at the bucket from the test's side."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def keys(self) -> set[str]:
        """The names of every object in the bucket."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {item["Key"] for page in pages for item in page.get("Contents", [])}

    def empty(self) -> None:
        client = self.client()
        for key in self.keys():
            client.delete_object(Bucket=self.bucket, Key=key)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3-compatible server on 127.0.0.1 and a free port, with the bucket created."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = S3Server(endpoint_url=f"http://{host}:{port}", bucket=BUCKET)
        s3.client().create_bucket(Bucket=BUCKET)
        yield s3
    finally:
        server.stop()


@pytest.fixture
def s3_storage(settings, s3_server: S3Server) -> Iterator[S3Server]:
    """Django's default storage is S3Storage on the test bucket for this test; the bucket is emptied
    afterwards."""
    default = {"BACKEND": S3_STORAGE, "OPTIONS": s3_server.storage_options()}
    settings.STORAGES = {**settings.STORAGES, "default": default}
    try:
        yield s3_server
    finally:
        s3_server.empty()


@pytest.fixture
def s3_env(s3_server: S3Server) -> Iterator[dict[str, str]]:
    """The environment variables for a process started by this test; the bucket is emptied
    afterwards."""
    try:
        yield s3_server.env()
    finally:
        s3_server.empty()
