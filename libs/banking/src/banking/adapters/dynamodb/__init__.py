"""The ports on DynamoDB: one module per store, and the item codec they share."""

from banking.adapters.dynamodb.codec import event_item, from_item, to_item
from banking.adapters.dynamodb.event_store import DynamoDBEventStore
from banking.adapters.dynamodb.projection_store import DynamoDBProjectionStore

__all__ = ["DynamoDBEventStore", "DynamoDBProjectionStore", "event_item", "from_item", "to_item"]
