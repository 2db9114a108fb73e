from django_auth_ldap.backend import LDAPBackend


class DirectoryBackend(LDAPBackend):
    """django-auth-ldap's backend, leaving accounts that have a local password to local sign-in.

    Otherwise a directory user named like a local account (the first administrator is "admin")
    would sign in to it, superuser and all, and the directory would rewrite its groups. An
    administrator hands a local account to the directory by turning its password off in the admin.
    """

    def get_or_build_user(self, username, ldap_user):
        user, built = super().get_or_build_user(username, ldap_user)
        if not built and user.has_usable_password():
            raise ldap_user.AuthenticationFailed(f"{user.username} has a local password")
        return user, built
