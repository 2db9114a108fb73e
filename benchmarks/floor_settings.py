"""The project's own settings, with benchmarks/floor_urls.py's URLs (benchmarks/part_floors.py)."""

from chatsite.settings import *  # noqa: F403

ROOT_URLCONF = "floor_urls"
