"""Word lists for the content policy tests, saved through the service the admin uses."""

from policy import services
from policy.models import WordList


def word_list(name: str, action: str, *terms: str) -> WordList:
    made = WordList(name=name, action=action, terms="\n".join(terms))
    services.word_list_save(word_list=made)
    return made
