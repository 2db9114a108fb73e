"""How a person's name is shown: Chinese, Japanese and Korean names family name first and unspaced
(王小明, from a directory's givenName 小明 and sn 王), others as Django writes them (Alice Liddell);
the user name when there is none."""

import re

from django import template
from django.contrib.auth.models import AbstractUser

register = template.Library()
# Kana, CJK ideographs (with extension A and compatibility forms) and Hangul syllables.
_FAMILY_NAME_FIRST = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


@register.filter
def full_name(user: AbstractUser) -> str:
    first, last = user.first_name.strip(), user.last_name.strip()
    if _FAMILY_NAME_FIRST.search(first + last):
        return f"{last}{first}"
    return user.get_full_name() or user.get_username()
