"""Drive Django admin change forms the way a browser does: GET, edit, POST.

``change_form_data`` turns a rendered add/change page (its ``adminform`` and
inline formsets, from the test client's context) into the POST data a browser
would send unchanged; tests then edit a few keys and POST it back.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.test import Client

from hub.events.bus import control_channel


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "pk"):
        return str(value.pk)
    return str(value)


def form_data(form: forms.BaseForm) -> dict[str, Any]:
    """One form's current values as POST data (disabled fields are not sent)."""
    data: dict[str, Any] = {}
    for bound in form:
        field = bound.field
        if field.disabled:
            continue
        value = bound.value()
        widget = field.widget
        if isinstance(widget, forms.MultiWidget):
            parts = widget.decompress(value) or []
            for index, part in enumerate(parts):
                data[f"{bound.html_name}_{index}"] = _plain(part)
        elif isinstance(widget, forms.CheckboxInput):
            if value:
                data[bound.html_name] = "on"
        elif isinstance(value, list | tuple):
            data[bound.html_name] = [_plain(v) for v in value]
        else:
            data[bound.html_name] = _plain(value)
    return data


def change_form_data(client: Client, url: str) -> dict[str, Any]:
    """What the browser would POST back from the admin page at ``url``, unedited."""
    response = client.get(url)
    assert response.status_code == 200, url
    context = response.context
    data = form_data(context["adminform"].form)
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(form_data(formset.management_form))
        for form in formset.forms:
            data.update(form_data(form))
    return data


def inline_prefix(data: dict[str, Any], suffix: str = "-TOTAL_FORMS") -> list[str]:
    """Prefixes of the inline formsets present in ``data`` (``memberships``, …)."""
    return [key[: -len(suffix)] for key in data if key.endswith(suffix)]


def add_inline_row(data: dict[str, Any], prefix: str, row: dict[str, Any]) -> None:
    """Append one new row to the inline formset ``prefix``."""
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    data[f"{prefix}-TOTAL_FORMS"] = str(index + 1)
    for name, value in row.items():
        data[f"{prefix}-{index}-{name}"] = value


def control_messages(published: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The control messages (``access_changed`` …) among the published ones."""
    channel = control_channel()
    return [json.loads(message) for ch, message in published if ch == channel]
