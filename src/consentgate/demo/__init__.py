"""The demo school site behind ``consentgate demo``."""
