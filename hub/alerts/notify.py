"""Re-notification of officers outside the hub (e-mail through Django's mail backend).

Live notification is the event itself (``alert.escalated``, ``task.overdue``) on
the stream every connected officer of the agency follows; this reaches the
ones who are not connected. Delivery problems are logged, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail

from hub.accounts.models import User

logger = logging.getLogger(__name__)


def notify_officers(officers: Iterable[User], *, subject: str, body: str) -> int:
    recipients = sorted({u.email for u in officers if u.email})
    if not recipients:
        return 0
    try:
        send_mail(
            subject[:200],
            body,
            settings.DEFAULT_FROM_EMAIL,
            recipients,
            fail_silently=False,
        )
    except Exception:
        logger.exception("could not e-mail %d officers about: %s", len(recipients), subject)
        return 0
    logger.info("notified %d officers: %s", len(recipients), subject)
    return len(recipients)
