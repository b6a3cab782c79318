resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Asynchronous failures go to the on-failure destination of aws_lambda_function_event_invoke_config below, which supersedes a function DLQ; functions invoked synchronously (API) or by a stream mapping have no asynchronous failures to catch.
  #checkov:skip=CKV_AWS_117:The functions call only DynamoDB, EventBridge, SQS and CloudWatch over their public endpoints; a VPC would add NAT or endpoint cost and cold-start latency and protect nothing here.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile in the deploying account; the zips are reproducible builds whose hash Terraform pins (source_code_hash).
  #checkov:skip=CKV_AWS_115:Reserved concurrency is set per environment through reserved_concurrent_executions; the default (null) leaves the account's pool shared.
  #checkov:skip=CKV_AWS_173:Environment variables hold only names and settings, no secrets; they are encrypted at rest with the AWS-managed key, or with kms_key_arn when one is given.
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.lambda.arn
  handler       = var.handler
  runtime       = var.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout

  filename         = var.filename
  source_code_hash = filebase64sha256(var.filename)

  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = var.environment_variables
  }

  tracing_config {
    mode = "Active"
  }

  # Levels apply only to the JSON format (AWS refuses them with Text).
  logging_config {
    log_format            = var.log_format
    log_group             = aws_cloudwatch_log_group.lambda.name
    application_log_level = var.log_format == "JSON" ? var.application_log_level : null
    system_log_level      = var.log_format == "JSON" ? var.system_log_level : null
  }

  tags = var.tags

  # The log group must exist first, or Lambda creates one that never expires.
  depends_on = [aws_cloudwatch_log_group.lambda]
}

resource "aws_cloudwatch_log_group" "lambda" {
  #checkov:skip=CKV_AWS_338:Retention is each environment's choice (log_retention_in_days): prod keeps a year, dev and local far less.
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "assume_role" {
  statement {
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = var.function_name
  assume_role_policy = data.aws_iam_policy_document.assume_role.json

  tags = var.tags
}

data "aws_iam_policy_document" "lambda" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }

  # X-Ray has no resource-level permissions: these two actions only accept "*".
  statement {
    sid       = "WriteTraces"
    effect    = "Allow"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.create_async_event_config ? [var.async_on_failure_destination_arn] : []
    content {
      sid       = "SendAsyncFailures"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }

  # The environment's key encrypts the dead-letter queues this role sends to (SQS needs
  # the sender to make and read data keys) and the function's environment.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseEnvironmentKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = var.function_name
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

resource "aws_lambda_function_event_invoke_config" "this" {
  count = var.create_async_event_config ? 1 : 0

  function_name = aws_lambda_function.this.function_name

  # A failing asynchronous event is retried this many times (0-2), then set aside.
  maximum_retry_attempts = var.async_maximum_retry_attempts
  # An event that waited this long (throttling, a backlog) is set aside rather than processed late.
  maximum_event_age_in_seconds = var.async_maximum_event_age_in_seconds

  # Lambda checks that the role may send to the destination.
  depends_on = [aws_iam_role_policy.lambda]

  destination_config {
    # An event that exhausted its retries or aged out lands here to be inspected and re-driven.
    on_failure {
      destination = var.async_on_failure_destination_arn
    }
  }
}
