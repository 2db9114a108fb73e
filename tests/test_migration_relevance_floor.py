"""Knowledge bases left on the old default floor (0) become automatic; a floor chosen on purpose stays."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("knowledge", "0011_document_languages")]
AFTER = [("knowledge", "0012_automatic_relevance_floor")]


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps.get_model("knowledge", "KnowledgeBase")


@pytest.mark.django_db(transaction=True)
def test_it_turns_zero_floors_into_automatic_and_back():
    old = migrate(BEFORE)
    old.objects.create(name="Default", slug="default", relevance_floor=0.0)
    old.objects.create(name="Chosen", slug="chosen", relevance_floor=0.3)
    new = migrate(AFTER)
    assert dict(new.objects.values_list("slug", "relevance_floor")) == {"default": None, "chosen": 0.3}
    new.objects.create(name="New", slug="new")
    back = migrate(BEFORE)
    floors = dict(back.objects.values_list("slug", "relevance_floor"))
    assert floors == {"default": 0.0, "chosen": 0.3, "new": 0.0}
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # every app back at its latest
