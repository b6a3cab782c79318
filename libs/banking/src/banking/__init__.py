"""Ledger's domain library: the account aggregate, its events and read models, and
the adapters that keep them on DynamoDB and EventBridge."""
