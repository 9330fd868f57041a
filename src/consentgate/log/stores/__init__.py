"""Where the privacy log keeps its records: the :class:`~consentgate.log.stores.base.Store`
interface, its schema and migrations, and the SQLite and PostgreSQL backends.
:func:`~consentgate.log.stores.factory.open_store` picks a backend from a path or URL."""
