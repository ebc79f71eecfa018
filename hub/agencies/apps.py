from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "hub.agencies"
    label = "agencies"
    verbose_name = "Agencies and crossing points"
