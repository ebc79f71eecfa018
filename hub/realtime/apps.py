from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "hub.realtime"
    label = "realtime"
    verbose_name = "Realtime"

    def ready(self) -> None:
        from hub.health import register_readiness_check
        from hub.realtime.hub import current_hub

        def live_feed() -> str | None:
            hub = current_hub()
            if hub is None or hub.healthy:
                return None
            return f"live feed unavailable: {hub.state_reason}"

        register_readiness_check("live_feed", live_feed)
