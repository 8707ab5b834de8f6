"""Argon2 cost profiles: the cheap one only under BCP_ENV=test; hashes verify across profiles."""
import pytest
from argon2 import extract_parameters

from bcp_service.auth import passwords


def test_the_test_profile_is_honoured_only_in_the_test_environment():
    assert passwords.profile_name({"PASSWORD_HASH_PROFILE": "test", "BCP_ENV": "test"}) == "test"
    assert passwords.profile_name({"PASSWORD_HASH_PROFILE": "test", "BCP_ENV": "production"}) == "standard"
    assert passwords.profile_name({"BCP_ENV": "test"}) == "standard"
    with pytest.raises(ValueError, match="PASSWORD_HASH_PROFILE"):
        passwords.profile_name({"PASSWORD_HASH_PROFILE": "fastest"})


def test_hashes_record_their_cost_and_verify_under_either_profile(monkeypatch):
    monkeypatch.setenv("BCP_ENV", "test")
    monkeypatch.setenv("PASSWORD_HASH_PROFILE", "test")
    cheap = passwords.hash_password("試験パスワード-123")
    assert extract_parameters(cheap).memory_cost == passwords.PROFILES["test"]["memory_cost"]
    monkeypatch.setenv("BCP_ENV", "production")
    strong = passwords.hash_password("試験パスワード-123")
    assert extract_parameters(strong).memory_cost > extract_parameters(cheap).memory_cost
    assert passwords.verify_password(cheap, "試験パスワード-123")
    assert not passwords.verify_password(cheap, "wrong-password-123")
    assert not passwords.verify_password(None, "試験パスワード-123")
