resource "aws_sqs_queue" "this" {
  name = var.name

  # Keeps a set-aside message for the longest SQS allows, so there is time to inspect and re-drive it.
  message_retention_seconds = var.message_retention_seconds

  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 300

  tags = var.tags
}
