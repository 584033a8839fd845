"""Accounts get passwords that are not trivially guessed (createsuperuser included)."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError


@pytest.mark.parametrize("password", ["1", "short7!", "password123", "1234567890123", "janedoe99"])
def test_weak_passwords_are_refused(password):
    user = get_user_model()(username="janedoe99", email="jane@example.com")
    with pytest.raises(ValidationError):
        validate_password(password, user)


def test_a_long_unusual_password_is_accepted():
    user = get_user_model()(username="janedoe99", email="jane@example.com")
    assert validate_password("tram-lantern-quietly-47-orbit", user) is None
