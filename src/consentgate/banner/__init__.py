"""The banner: its markup and assets, the languages it speaks, the consent-aware CSP and the
injection into HTML pages. Imports :mod:`consentgate.enforce` only."""
