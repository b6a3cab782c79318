resource "aws_cloudwatch_event_bus" "this" {
  name               = var.name
  kms_key_identifier = var.kms_key_arn

  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = var.rules

  name           = each.value.name
  description    = each.value.description
  event_bus_name = aws_cloudwatch_event_bus.this.name
  event_pattern  = each.value.event_pattern

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = var.rules

  rule           = aws_cloudwatch_event_rule.this[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.this.name
  target_id      = each.value.target_id
  arn            = each.value.function_arn

  # A delivery EventBridge cannot make (throttling, a missing permission, an outage of the
  # target) is retried with back-off for this long and this many times, then set aside.
  retry_policy {
    maximum_event_age_in_seconds = each.value.maximum_event_age_in_seconds
    maximum_retry_attempts       = each.value.maximum_retry_attempts
  }

  # An event EventBridge gave up delivering lands here instead of being dropped.
  dead_letter_config {
    arn = each.value.dead_letter_queue_arn
  }
}

resource "aws_lambda_permission" "this" {
  for_each = var.rules

  statement_id  = "AllowEventBridgeRule-${each.value.name}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this[each.key].arn
}

data "aws_iam_policy_document" "dead_letter_queue" {
  for_each = var.rules

  statement {
    sid       = "AllowEventBridgeRule"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [each.value.dead_letter_queue_arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    # Only this rule may write to its queue, not any rule of any account.
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.this[each.key].arn]
    }
  }
}

# Without it EventBridge cannot write to the dead-letter queue and drops what it gives up on.
resource "aws_sqs_queue_policy" "dead_letter_queue" {
  for_each = var.rules

  queue_url = each.value.dead_letter_queue_url
  policy    = data.aws_iam_policy_document.dead_letter_queue[each.key].json
}
