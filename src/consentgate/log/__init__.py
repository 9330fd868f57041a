"""The privacy log: receipts of decisions, minimised visit records, the spool that keeps receipts
through an outage, visitors' data rights, and the stores (:mod:`consentgate.log.stores`).
Imports :mod:`consentgate.enforce` only."""
