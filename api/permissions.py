from rest_framework.permissions import DjangoModelPermissions


class ManagerPermissions(DjangoModelPermissions):
    """Django's model permissions for every method: unlike DRF's default, reading needs `view_*`.
    For documents, which only managers may list."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class ChangePermissionToPost(DjangoModelPermissions):
    """For actions posted on an object (re-index): they change it."""

    perms_map = {**DjangoModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}
