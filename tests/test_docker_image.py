"""The image `docker build` makes has everything the app needs, and nothing secret: worked out from the
Dockerfile and .dockerignore with Docker's own rules (tests/docker_context.py), since there is no
Docker here."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps

from tests.docker_context import DockerIgnore, copies, missing_from_image, read_dockerignore
from tests.processes import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCKERIGNORE = (ROOT / ".dockerignore").read_text()
_DOTTED = re.compile(r"[A-Za-z_]\w*(\.\w+)+")


def local_packages() -> set[str]:
    return {path.parent.name for path in ROOT.glob("*/__init__.py")}


def tracked(*paths: str) -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *paths], cwd=ROOT, capture_output=True, check=True
    )
    return [path for path in listed.stdout.decode().split("\0") if path]


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in _strings(key) + _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


def packages_the_settings_need() -> set[str]:
    """The project's packages named in INSTALLED_APPS, imported by the production settings, or named
    by a dotted path in them (middleware, URLs, REST framework classes, hooks, …)."""
    production = sys.modules["chatsite.settings"]
    named = {config.name for config in apps.get_app_configs()}
    named |= {
        text for name in dir(production) if name.isupper() for text in _strings(getattr(production, name))
    }
    tree = ast.parse(Path(production.__file__).read_text())
    named |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    named |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules = {text for text in named if _DOTTED.fullmatch(text) or text.isidentifier()}
    return {module.split(".")[0] for module in modules} & local_packages()


def files_the_app_needs() -> list[str]:
    return tracked(*sorted(packages_the_settings_need()), "templates", "static", "locale", "manage.py")


def test_the_image_has_every_app_template_static_file_and_translation():
    needed = files_the_app_needs()
    assert {"api/urls.py", "knowledge/formats/__init__.py", "locale/zh_Hans/LC_MESSAGES/django.mo"} <= set(
        needed
    )
    assert {"templates/base.html", "manage.py"} <= set(needed)
    assert missing_from_image(DOCKERFILE, DOCKERIGNORE, needed) == []


def test_the_settings_need_every_app_and_what_they_import():
    assert packages_the_settings_need() == {
        "chatsite",
        "knowledge",
        "chat",
        "api",
        "audit",
        "accounts",
        "policy",
        "usage",
        "sources",
        "faq",
        "widgets",
    }


def test_it_notices_an_app_or_the_translations_left_out():
    needed = files_the_app_needs()
    only_three = DOCKERFILE.replace(
        "COPY . .", "COPY chatsite chatsite\nCOPY knowledge knowledge\nCOPY chat chat"
    )
    missing = missing_from_image(only_three, DOCKERIGNORE, needed)
    assert "api/urls.py" in missing and "locale/zh_Hans/LC_MESSAGES/django.mo" in missing
    assert "chat/views.py" not in missing
    assert missing_from_image(DOCKERFILE, DOCKERIGNORE + "\n**/*.mo\n", needed) == [
        "locale/zh_Hans/LC_MESSAGES/django.mo",
        "locale/zh_Hans/LC_MESSAGES/djangojs.mo",
    ]
    assert "api/urls.py" in missing_from_image(DOCKERFILE.replace("COPY . .", "COPY api ."), "", needed)


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".git/config",
        "data/db.sqlite3",
        "data/admin-password.txt",
        ".venv/bin/python",
        "tests/settings.py",
        "chat/__pycache__/views.cpython-311.pyc",
        "benchmarks/chat_load.py",
        "test-artifacts/chat.png",
    ],
)
def test_secrets_local_state_and_tests_stay_out(path):
    assert DockerIgnore(read_dockerignore(DOCKERIGNORE)).excludes(path)


def test_the_dependencies_are_installed_from_pyproject_alone_so_code_changes_reuse_that_layer():
    install = DOCKERFILE.index("pip install")
    before = copies(DOCKERFILE[:install])[0]
    assert [copy.sources for copy in before] == [("pyproject.toml",)]


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        ("# a comment\n", "# a comment", False),
        (" # not a comment\n", "# not a comment", True),
        ("/data\n", "data/db.sqlite3", True),
        ("data\n", "tests/data/corpus.md", False),
        ("*/temp*\n", "somedir/temporary.txt", True),
        ("*/temp*\n", "somedir/sub/temporary.txt", False),
        ("*/*/temp*\n", "somedir/subdir/temporary.txt", True),
        ("temp?\n", "tempa", True),
        ("temp?\n", "temp/a", False),  # neither "temp/a" nor its folder "temp" is "temp" and one more
        ("**/*.go\n", "a/b/c.go", True),
        ("**/*.go\n", "c.go", True),
        ("*.md\n!README*.md\n", "README-secret.md", False),
        ("*.md\n!README*.md\nREADME-secret.md\n", "README-secret.md", True),
        ("docs\n!docs/README.md\n", "docs/README.md", False),
        ("docs\n!docs/README.md\n", "docs/other.md", True),
        ("a/../b\n", "b/c", True),
        ("!\n", "anything", None),
    ],
)
def test_dockerignore_patterns_follow_dockers_rules(patterns, path, excluded):
    if excluded is None:
        with pytest.raises(ValueError):
            DockerIgnore(read_dockerignore(patterns))
        return
    assert DockerIgnore(read_dockerignore(patterns)).excludes(path) is excluded


@pytest.mark.parametrize(
    ("dockerfile", "present"),
    [
        ("WORKDIR /app\nCOPY chatsite chatsite\n", True),
        ("WORKDIR /app\nCOPY chatsite .\n", False),  # its contents, at /app/settings.py
        ("WORKDIR /app\nCOPY --chown=app:app . .\n", True),
        ('WORKDIR /app\nCOPY ["chatsite", "chatsite/"]\n', True),
        ("WORKDIR /app\nCOPY --from=build /app /app\n", False),
        ("WORKDIR /srv\nCOPY . /app/\nWORKDIR /app\n", True),
        ("WORKDIR /app\n# COPY . .\nRUN true \\\n  # COPY . .\n  && true\n", False),
        ("WORKDIR /app\nCOPY chat* ./\n", False),  # each folder's contents, into /app
        ("WORKDIR /app\nCOPY cha?site ./chatsite\n", True),
        ("WORKDIR /app\nCOPY chatsite/settings.py chatsite/\n", True),
        ("WORKDIR /app\nCOPY chatsite/settings.py chatsite\n", False),  # a file named /app/chatsite
    ],
)
def test_copy_puts_files_where_docker_does(dockerfile, present):
    missing = missing_from_image(dockerfile, "", ["chatsite/settings.py"])
    assert (missing == []) is present
