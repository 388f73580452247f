"""What runs a service: settings, database, HTTP, logs, metrics, traces, accounts, migrations, the
runtime (see shared/README.md)."""
