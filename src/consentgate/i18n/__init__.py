"""The words visitors read, in every language consentgate speaks: the catalogs (``locales/``),
language negotiation and the category labels. Imports :mod:`consentgate.enforce` only; the banner
and the privacy log's visitor pages both use it."""
