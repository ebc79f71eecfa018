from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    name = "hub.incidents"
    label = "incidents"
    verbose_name = "Incidents"

    def ready(self) -> None:
        from hub.events.streams import register_stream_kind
        from hub.incidents.selectors import (
            incident_stream_names,
            incident_stream_readable,
            incident_stream_reader,
            present_incident_events,
        )

        register_stream_kind(
            "incident",
            can_read=incident_stream_readable,
            present=present_incident_events,
            visible=incident_stream_names,
            reader=incident_stream_reader,
        )
