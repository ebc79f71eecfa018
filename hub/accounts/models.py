"""The hub's user model.

A user is a person (officer, coordinator, official, administrator). What they
may do comes from their ``agencies.Membership`` rows, never from Django's
is_staff/permissions alone.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    phone = models.CharField(
        max_length=32, blank=True, help_text="Duty phone, used when an alert escalates."
    )

    class Meta:
        ordering = ["username"]

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    def __str__(self) -> str:
        return self.display_name
