"""How secrets we hand out (API keys, shared-link tokens, widget secrets) are stored: only a digest,
so that a copy of the database opens nothing.

They are 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force, and a
digest that needs no salt can be looked up with an index.
"""

import hashlib


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
