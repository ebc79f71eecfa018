from django.apps import AppConfig


class SitrepsConfig(AppConfig):
    name = "hub.sitreps"
    label = "sitreps"
    verbose_name = "Situation reports"
