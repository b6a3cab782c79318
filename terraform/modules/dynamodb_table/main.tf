resource "aws_dynamodb_table" "this" {
  name         = var.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = var.hash_key
  range_key    = var.range_key

  dynamic "attribute" {
    for_each = var.attributes
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  dynamic "global_secondary_index" {
    for_each = var.global_secondary_indexes
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = global_secondary_index.value.projection_type
    }
  }

  stream_enabled   = var.stream_view_type != null
  stream_view_type = var.stream_view_type

  # Restores the table to any second of the last 35 days after a bad write or a bug.
  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  # Refuses a DeleteTable (a mistaken destroy) until turned off on purpose.
  deletion_protection_enabled = var.deletion_protection_enabled

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }

  dynamic "ttl" {
    for_each = var.ttl_attribute_name == null ? [] : [var.ttl_attribute_name]
    content {
      enabled        = true
      attribute_name = ttl.value
    }
  }

  tags = var.tags
}
