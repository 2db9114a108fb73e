"""A password hasher for the tests: Django's PBKDF2 with one iteration instead of a million.

Fixtures create several users per test, and hashing each password the production way took most of
many tests' time. The algorithm name and the stored format are PBKDF2's own, so a server process
started by a test with the production settings still verifies these passwords (it reads the
iteration count from the stored hash).
"""

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class OneIterationPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    iterations = 1
