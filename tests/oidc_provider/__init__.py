"""A real OIDC provider for the single sign-on tests: django-oauth-toolkit in a Django project of its own,
run in a process of its own (`python -m tests.oidc_provider.serve`).

Its people live in a JSON file the tests write (PROVIDER_DIRECTORY): {"username": {"password": ...,
"email": ..., "given_name": ..., "family_name": ..., "groups": [...]}}. It is read at every sign-in
and every token, so a test changes someone's groups "at the provider" by rewriting the file.
"""
