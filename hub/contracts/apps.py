from django.apps import AppConfig


class ContractsConfig(AppConfig):
    name = "hub.contracts"
    label = "contracts"
    verbose_name = "Public contracts"
