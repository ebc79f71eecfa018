from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "hub.events"
    label = "events"
    verbose_name = "Event record"

    def ready(self) -> None:
        from hub.events.witness import witness_status
        from hub.health import register_readiness_detail

        # A witness that does not answer is shown, and never makes the hub unready.
        register_readiness_detail("witness", witness_status)
