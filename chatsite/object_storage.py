"""Where uploaded originals are kept (STORAGES["default"]), from the environment.

Files under MEDIA_ROOT by default. In production, S3-compatible object storage through django-storages'
S3Storage, so that every node reads and writes the same originals with no shared filesystem: set
STORAGE_S3_BUCKET and, as needed, the other STORAGE_S3_* variables. FILE_STORAGE_BACKEND and
FILE_STORAGE_OPTIONS name any other Django storage and its options (they win over STORAGE_S3_*).
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from chatsite.env import env_json, env_str, env_url

FILE_SYSTEM_STORAGE = "django.core.files.storage.FileSystemStorage"
S3_STORAGE = "storages.backends.s3.S3Storage"
ADDRESSING_STYLES = ("path", "virtual", "auto")


def default_storage_from_env() -> dict[str, Any]:
    """STORAGES["default"]: its backend and options."""
    options = env_json("FILE_STORAGE_OPTIONS", {})
    if not isinstance(options, dict):
        raise ImproperlyConfigured("FILE_STORAGE_OPTIONS must be a JSON object of the storage's options.")
    bucket = env_str("STORAGE_S3_BUCKET")
    backend = env_str("FILE_STORAGE_BACKEND", S3_STORAGE if bucket else FILE_SYSTEM_STORAGE)
    if bucket:
        options = _s3_options(bucket) | options
    if backend == S3_STORAGE:
        # S3 replaces an object of the same name silently (django-storages' default): an upload must
        # never take the place of another document's original.
        options.setdefault("file_overwrite", False)
    return {"BACKEND": backend, "OPTIONS": options}


def _s3_options(bucket: str) -> dict[str, Any]:
    """S3Storage's options from STORAGE_S3_*; what is unset is left to django-storages and boto3
    (credentials then come from boto3's own chain: AWS_* variables, a profile, an instance role)."""
    style = env_str("STORAGE_S3_ADDRESSING_STYLE")
    if style and style not in ADDRESSING_STYLES:
        raise ImproperlyConfigured(
            f"STORAGE_S3_ADDRESSING_STYLE={style!r} must be one of: {', '.join(ADDRESSING_STYLES)}."
        )
    given = {
        "bucket_name": bucket,
        "endpoint_url": env_url("STORAGE_S3_ENDPOINT_URL", schemes=("http", "https")),
        "region_name": env_str("STORAGE_S3_REGION"),
        "access_key": env_str("STORAGE_S3_ACCESS_KEY_ID"),
        "secret_key": env_str("STORAGE_S3_SECRET_ACCESS_KEY"),
        "location": env_str("STORAGE_S3_PREFIX").strip("/"),
        "addressing_style": style,
    }
    return {name: value for name, value in given.items() if value}
