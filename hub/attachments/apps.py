from django.apps import AppConfig


class AttachmentsConfig(AppConfig):
    name = "hub.attachments"
    label = "attachments"
    verbose_name = "Evidence files"
