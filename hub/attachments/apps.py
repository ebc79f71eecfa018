from django.apps import AppConfig


class AttachmentsConfig(AppConfig):
    name = "hub.attachments"
    label = "attachments"
    verbose_name = "Evidence files"

    def ready(self) -> None:
        from hub.attachments.health import attachments_readiness, ensure_filesystem_location
        from hub.health import register_readiness_section

        ensure_filesystem_location()
        register_readiness_section("attachments", attachments_readiness)
