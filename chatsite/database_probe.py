"""Whether the database answers, asked without a long wait: for a server that is down, PostgreSQL's
pool waits its whole timeout (a minute) for a connection, and whoever asked would wait with it."""

from django.db import connection

PROBE_SECONDS = 2.0


def answers(timeout: float = PROBE_SECONDS) -> tuple[bool, str]:
    """(whether the database answered within `timeout`, a short detail that names no address)."""
    try:
        pool = getattr(connection, "pool", None)
        if pool is not None:
            pool.open()  # as Django's first connection does; it may not have been made yet
            with pool.connection(timeout=timeout) as pooled:
                pooled.execute("SELECT 1")
        else:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
    except Exception as error:  # the database's errors, and the pool's timeout
        return False, f"unreachable ({type(error).__name__})"
    return True, "ok"
