from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "hub.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from hub.alerts.selectors import crossing_stream_names, crossing_stream_readable
        from hub.events.streams import register_stream_kind

        register_stream_kind(
            "crossing", can_read=crossing_stream_readable, visible=crossing_stream_names
        )
