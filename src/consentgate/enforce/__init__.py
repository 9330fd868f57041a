"""Enforcement: the policy, the signed consent cookie, the effective consent of a request, the consent
endpoints and the cookie filters.

The bottom layer: it imports nothing from consentgate's other parts (banner, log, audit, dashboard,
cli, demo). Optional parts plug in through the protocols in :mod:`consentgate.enforce.hooks`.
"""
