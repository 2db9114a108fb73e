"""Answers saved before versions existed are linked to their questions by the migration."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("chat", "0005_message_feedback")]
AFTER = [("chat", "0006_answer_versions")]


@pytest.mark.django_db(transaction=True)
def test_it_links_each_saved_answer_to_the_question_before_it():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    user = old.get_model("auth", "User").objects.create(username="alice")
    conversation = old.get_model("chat", "Conversation").objects.create(user_id=user.id)
    Message = old.get_model("chat", "Message")

    def say(role: str, content: str) -> int:
        return Message.objects.create(conversation_id=conversation.id, role=role, content=content).id

    first, first_answer = say("user", "Q1"), say("assistant", "A1")
    second, second_answer = say("user", "Q2"), say("assistant", "A2")
    stray = say("assistant", "A2 again")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # every app back at its latest
    new = executor.loader.project_state(AFTER).apps.get_model("chat", "Message")
    linked = dict(new.objects.values_list("id", "reply_to_id"))
    assert linked == {first: None, first_answer: first, second: None, second_answer: second, stray: None}
    assert new.objects.filter(shown=True).count() == 5
