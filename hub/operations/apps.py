from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "hub.operations"
    label = "operations"
    verbose_name = "Joint operations"

    def ready(self) -> None:
        from hub.events.streams import register_stream_kind
        from hub.operations.selectors import (
            operation_stream_names,
            operation_stream_readable,
            template_stream_names,
            template_stream_readable,
        )

        register_stream_kind(
            "operation", can_read=operation_stream_readable, visible=operation_stream_names
        )
        # template:<CODE>: one template.published per version of an SOP template.
        register_stream_kind(
            "template", can_read=template_stream_readable, visible=template_stream_names
        )
