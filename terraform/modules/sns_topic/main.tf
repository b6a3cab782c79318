# CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key (its key
# policy cannot be changed), so alarms would never arrive: the topic gets a customer
# managed key whose policy lets CloudWatch use it, unless a key is given.
resource "aws_kms_key" "this" {
  count = var.kms_key_id == null ? 1 : 0

  description             = "Encrypts the ${var.name} SNS topic; CloudWatch alarms of the account may use it."
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        # The account's IAM policies decide who administers the key, as for any key.
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:${var.partition}:iam::${var.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchAlarmsEncrypt"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
      },
    ]
  })

  tags = var.tags
}

resource "aws_sns_topic" "this" {
  name = var.name
  # Alarm notifications name resources and accounts: encrypted at rest.
  kms_master_key_id = var.kms_key_id == null ? aws_kms_key.this[0].arn : var.kms_key_id

  tags = var.tags
}

resource "aws_sns_topic_policy" "this" {
  arn = aws_sns_topic.this.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "CloudWatchAlarmsPublish"
      Effect    = "Allow"
      Principal = { Service = "cloudwatch.amazonaws.com" }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.this.arn
      Condition = { StringEquals = { "aws:SourceAccount" = var.account_id } }
    }]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.email_addresses)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}
