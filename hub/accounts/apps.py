from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "hub.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from hub.accounts.signals import close_sockets_on_logout

        # Django's own logout views (the admin's) fire this signal; the API's
        # logout calls the same service directly.
        user_logged_out.connect(close_sockets_on_logout, dispatch_uid="hub-close-sockets-on-logout")
