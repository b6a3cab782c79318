# The whole Ledger system in one environment, wired as docs/architecture.md says.

locals {
  prefix = "ledger-${var.environment}"
  tags   = merge({ Application = "ledger", Environment = var.environment }, var.tags)

  # Shared by every function (docs/architecture.md, "Environment variables").
  powertools_environment = {
    POWERTOOLS_METRICS_NAMESPACE  = "Ledger"
    POWERTOOLS_LOG_LEVEL          = var.log_level
    POWERTOOLS_LOGGER_SAMPLE_RATE = tostring(var.log_sample_rate)
    POWERTOOLS_TRACE_DISABLED     = tostring(!var.tracing_sdk_enabled)
  }

  table_read_actions = ["dynamodb:GetItem", "dynamodb:Query"]

  # Lambda's application log level (advanced logging controls) is the functions' own
  # level in Lambda's names: Lambda sets it as AWS_LAMBDA_LOG_LEVEL, which powertools
  # takes over POWERTOOLS_LOG_LEVEL, so the two can never disagree.
  application_log_level = lookup({ WARNING = "WARN", CRITICAL = "FATAL" }, upper(var.log_level), upper(var.log_level))

  # The time budgets of the API path, each set here only, tightest first: one SDK call
  # with all its retries (banking.entrypoints.bootstrap.SDK_CALL_BUDGET_S, 9 s) < the
  # functions' timeout < API Gateway's integration timeout (at most 30 s). So a client
  # never gets a gateway timeout while its command is still running (and may yet
  # commit), and a command only starts a write it can see through (docs/infrastructure.md).
  api_function_timeout_seconds         = 25
  api_integration_timeout_milliseconds = 29000

  # Which events each publisher may put on the bus: a role can only publish as itself
  # (events:source) and only its own kinds of event (events:detail-type), so no role
  # can forge the state-carried events the projectors trust.
  publications = {
    fanout     = { source = "ledger.events", detail_types = ["EventStored"] }
    dispatcher = { source = "ledger.dispatcher", detail_types = local.state_carried_types }
    replay     = { source = "ledger.replay", detail_types = local.state_carried_types }
  }
  # The state-carried events the dispatcher (live) and replay publish: one per stored
  # event type, each carrying the account's balances and settings (docs/events.md).
  state_carried_types = [
    "CreditEvent", "DebitEvent", "AccountOpened", "AccountFrozen", "AccountUnfrozen",
    "AccountClosed", "OverdraftLimitChanged", "HoldPlaced", "HoldVoided", "HoldExpired",
  ]
  publish_statements = {
    for name, publication in local.publications : name => {
      sid       = "Publish${replace(title(replace(publication.source, ".", " ")), " ", "")}"
      actions   = ["events:PutEvents"]
      resources = [module.event_bus.event_bus_arn]
      conditions = [
        { test = "StringEquals", variable = "events:source", values = [publication.source] },
        { test = "StringEquals", variable = "events:detail-type", values = publication.detail_types },
      ]
    }
  }

  # The OAuth scopes of the routes (docs/security.md): recording credits, debits and
  # transfers; opening accounts and changing their status or overdraft limit.
  write_scope  = "ledger/transactions.write"
  manage_scope = "ledger/accounts.manage"

  # How accounts whose history predates accounts read (docs/events.md): every function
  # that loads an account from the events table needs both.
  legacy_environment = {
    LEGACY_CURRENCY = var.legacy_currency
    OVERDRAFT_LIMIT = var.overdraft_limit
  }

  # What each function is and what it is told (docs/architecture.md, "Lambdas").
  functions = {
    commands = {
      description      = "Opens and manages accounts, and appends credits, debits, transfers and holds to the events table."
      timeout          = local.api_function_timeout_seconds
      async_on_failure = false
      environment = merge(local.legacy_environment, {
        EVENTS_TABLE_NAME      = module.events_table.dynamodb_table_name
        IDEMPOTENCY_TABLE_NAME = module.idempotency_table.dynamodb_table_name
        TRANSFERS_TABLE_NAME   = module.transfers_table.dynamodb_table_name
        LEDGER_TIMEZONE        = var.ledger_timezone
        HOLDS_TABLE_NAME       = module.holds_table.dynamodb_table_name
      })
    }
    queries = {
      description      = "Answers account, balance, event-history, statement, transfer and hold reads."
      timeout          = local.api_function_timeout_seconds
      async_on_failure = false
      environment = merge(local.legacy_environment, {
        EVENTS_TABLE_NAME      = module.events_table.dynamodb_table_name
        PROJECTIONS_TABLE_NAME = module.projections_table.dynamodb_table_name
        TRANSFERS_TABLE_NAME   = module.transfers_table.dynamodb_table_name
        LEDGER_TIMEZONE        = var.ledger_timezone
        HOLDS_TABLE_NAME       = module.holds_table.dynamodb_table_name
      })
    }
    fanout = {
      description      = "Publishes every stored event from the events table's stream to the bus."
      timeout          = 30
      async_on_failure = false
      environment = {
        EVENT_BUS_NAME = module.event_bus.event_bus_name
      }
    }
    dispatcher = {
      description      = "Turns EventStored into the stored type's event carrying the account as of the event."
      timeout          = 30
      async_on_failure = true
      environment = merge(local.legacy_environment, {
        EVENTS_TABLE_NAME = module.events_table.dynamodb_table_name
        EVENT_BUS_NAME    = module.event_bus.event_bus_name
        LEDGER_TIMEZONE   = var.ledger_timezone
      })
    }
    projectors = {
      description      = "Writes the balance read models, guarded by lastKnownVersion."
      timeout          = 30
      async_on_failure = true
      environment = {
        PROJECTIONS_TABLE_NAME = module.projections_table.dynamodb_table_name
      }
    }
    replay = {
      description = "Re-publishes one scan segment (or one account) of the events table for the projectors."
      # It stops 15 s before this and answers where it stopped, so the operator's progress
      # line moves every minute; the caller waits for answers up to 16 min (ops/aws.py).
      timeout          = 60
      async_on_failure = false
      environment = merge(local.legacy_environment, {
        EVENTS_TABLE_NAME = module.events_table.dynamodb_table_name
        EVENT_BUS_NAME    = module.event_bus.event_bus_name
      })
    }
    expirer = {
      description = "Records HoldExpired for every pending hold past its expiry; run every minute by a schedule."
      # A run releases the due holds a batch at a time; a backlog left over is the next run's.
      timeout          = 60
      async_on_failure = false
      environment = merge(local.legacy_environment, {
        EVENTS_TABLE_NAME      = module.events_table.dynamodb_table_name
        IDEMPOTENCY_TABLE_NAME = module.idempotency_table.dynamodb_table_name
        TRANSFERS_TABLE_NAME   = module.transfers_table.dynamodb_table_name
        HOLDS_TABLE_NAME       = module.holds_table.dynamodb_table_name
        LEDGER_TIMEZONE        = var.ledger_timezone
      })
    }
  }

  # Least privilege: only the actions each function calls, on only what it touches.
  # (A local of its own, so creating the functions need not wait for the queues.)
  function_policy_statements = {
    commands = [
      {
        # Loads the account's events; appends one event and its idempotency key in one
        # TransactWriteItems, which IAM authorises as a PutItem per item (it holds no
        # ConditionCheck item, so no dynamodb:ConditionCheckItem).
        sid       = "AppendEvents"
        actions   = concat(local.table_read_actions, ["dynamodb:PutItem"])
        resources = [module.events_table.dynamodb_table_arn, module.idempotency_table.dynamodb_table_arn]
      },
      {
        # A transfer's record is one more Put of the same transaction (so a PutItem); it
        # is read back by its key, never queried, to answer a retried transfer.
        sid       = "RecordTransfers"
        actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
        resources = [module.transfers_table.dynamodb_table_arn]
      },
      {
        # A hold's record is one more Put of its event's transaction; it is read by its
        # id to find the hold's account.
        sid       = "RecordHolds"
        actions   = ["dynamodb:GetItem", "dynamodb:PutItem"]
        resources = [module.holds_table.dynamodb_table_arn]
      },
    ]
    queries = [
      {
        sid       = "ReadEventsAndProjections"
        actions   = local.table_read_actions
        resources = [module.events_table.dynamodb_table_arn, module.projections_table.dynamodb_table_arn]
      },
      {
        # A balance as of a moment and a date range find their version by time.
        sid       = "QueryEventsByTime"
        actions   = ["dynamodb:Query"]
        resources = [module.events_table.dynamodb_table_index_arns["byRecordedAt"]]
      },
      {
        # A transfer is read by its id only.
        sid       = "ReadTransfers"
        actions   = ["dynamodb:GetItem"]
        resources = [module.transfers_table.dynamodb_table_arn]
      },
      {
        # A hold by its id; an account's holds through the byAccount index.
        sid       = "ReadHolds"
        actions   = local.table_read_actions
        resources = [module.holds_table.dynamodb_table_arn, "${module.holds_table.dynamodb_table_arn}/index/byAccount"]
      },
    ]
    fanout = [
      {
        # What the event source mapping needs to poll the stream on the function's behalf.
        sid       = "ReadEventsStream"
        actions   = ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
        resources = [module.events_table.dynamodb_table_stream_arn]
      },
      local.publish_statements["fanout"],
      {
        # The mapping sends what it gave up on with the function's role.
        sid       = "SendStreamFailures"
        actions   = ["sqs:SendMessage"]
        resources = [module.dead_letter_queues["fanout_stream"].sqs_queue_arn]
      },
    ]
    dispatcher = [
      {
        # Reads the one stored event (and the state it carries) by its key: no Query.
        sid       = "ReadEvents"
        actions   = ["dynamodb:GetItem"]
        resources = [module.events_table.dynamodb_table_arn]
      },
      local.publish_statements["dispatcher"],
    ]
    projectors = [
      {
        # Read models are written by a conditional UpdateItem (guarded by lastKnownVersion),
        # never put whole: no dynamodb:PutItem.
        sid       = "WriteProjections"
        actions   = concat(local.table_read_actions, ["dynamodb:UpdateItem"])
        resources = [module.projections_table.dynamodb_table_arn]
      },
    ]
    replay = [
      {
        # A parallel scan of the events table, or one account's events.
        sid       = "ReadEventsForReplay"
        actions   = ["dynamodb:Scan", "dynamodb:Query"]
        resources = [module.events_table.dynamodb_table_arn]
      },
      local.publish_statements["replay"],
    ]
    expirer = [
      {
        # Loads the hold's account and appends its HoldExpired, with the hold record's
        # status, in one TransactWriteItems (a PutItem per item).
        sid       = "AppendExpiries"
        actions   = concat(local.table_read_actions, ["dynamodb:PutItem"])
        resources = [module.events_table.dynamodb_table_arn, module.holds_table.dynamodb_table_arn]
      },
      {
        # The due holds, from the pending-by-expiry index: never a scan.
        sid       = "FindDueHolds"
        actions   = ["dynamodb:Query"]
        resources = ["${module.holds_table.dynamodb_table_arn}/index/pendingByExpiry"]
      },
    ]
  }

  # One queue per asynchronous hop, so what failed where is never ambiguous.
  dead_letter_queues = {
    fanout_stream        = { name = "${local.prefix}-fanout-stream-dlq" }
    event_stored_rule    = { name = "${local.prefix}-event-stored-dlq" }
    balance_changed_rule = { name = "${local.prefix}-balance-changed-dlq" }
    dispatcher_async     = { name = "${local.prefix}-dispatcher-async-dlq" }
    projectors_async     = { name = "${local.prefix}-projectors-async-dlq" }
    expirer_schedule     = { name = "${local.prefix}-expirer-schedule-dlq" }
  }
}

module "events_table" {
  source = "../dynamodb_table"

  name       = "${local.prefix}-events"
  hash_key   = "accountId"
  range_key  = "version"
  attributes = { accountId = "S", version = "N", recordedAt = "S" }
  # Each account's events by time, for balances as of a moment and date ranges. Keys
  # only: it names a version, the table (read consistently) gives the snapshot.
  global_secondary_indexes = {
    byRecordedAt = { hash_key = "accountId", range_key = "recordedAt", projection_type = "KEYS_ONLY" }
  }

  # Fanout needs only the stored event, never the (nonexistent) previous image.
  stream_view_type               = "NEW_IMAGE"
  point_in_time_recovery_enabled = true
  deletion_protection_enabled    = var.deletion_protection_enabled
  kms_key_arn                    = var.kms_key_arn

  tags = local.tags
}

module "idempotency_table" {
  source = "../dynamodb_table"

  name       = "${local.prefix}-idempotency"
  hash_key   = "idempotencyKey"
  attributes = { idempotencyKey = "S" }

  ttl_attribute_name             = "expiresAt"
  point_in_time_recovery_enabled = true
  deletion_protection_enabled    = var.deletion_protection_enabled
  kms_key_arn                    = var.kms_key_arn

  tags = local.tags
}

module "projections_table" {
  source = "../dynamodb_table"

  name       = "${local.prefix}-projections"
  hash_key   = "accountId"
  range_key  = "readModel"
  attributes = { accountId = "S", readModel = "S" }

  # The balance read models (partition: the account id) and AccountsByOwner (partition
  # owner#<subject>, one item per account, in account id order); rebuildable from
  # the events (replay), but a restore is faster than a replay.
  point_in_time_recovery_enabled = true
  deletion_protection_enabled    = var.deletion_protection_enabled
  kms_key_arn                    = var.kms_key_arn

  tags = local.tags
}

module "transfers_table" {
  source = "../dynamodb_table"

  # One record per transfer (its postings and legs), written in the same transaction
  # as its legs; kept for ever, like the events it names: no TTL.
  name       = "${local.prefix}-transfers"
  hash_key   = "transferId"
  attributes = { transferId = "S" }

  point_in_time_recovery_enabled = true
  deletion_protection_enabled    = var.deletion_protection_enabled
  kms_key_arn                    = var.kms_key_arn

  tags = local.tags
}

module "holds_table" {
  source = "../dynamodb_table"

  # One record per hold (its account, amount, expiry and status), written in the same
  # transaction as the event that places or resolves it; kept for ever, like its events.
  name       = "${local.prefix}-holds"
  hash_key   = "holdId"
  attributes = { holdId = "S", accountId = "S", version = "N", pendingShard = "S", expiresAt = "S" }
  global_secondary_indexes = {
    # An account's holds, in the order they were placed (GET /accounts/{id}/holds).
    byAccount = { hash_key = "accountId", range_key = "version" }
    # Only pending holds carry pendingShard (spread over 8 values so no index partition
    # runs hot): the expirer queries each for the ones past their expiry.
    pendingByExpiry = { hash_key = "pendingShard", range_key = "expiresAt" }
  }

  point_in_time_recovery_enabled = true
  deletion_protection_enabled    = var.deletion_protection_enabled
  kms_key_arn                    = var.kms_key_arn

  tags = local.tags
}

module "dead_letter_queues" {
  source   = "../sqs_queue"
  for_each = local.dead_letter_queues

  # Lambda writes to its queues with the function's role; the event_bus module gives
  # EventBridge a queue policy for its rules' queues.
  name = each.value.name
  # With the environment's key, whose policy must let EventBridge use it (docs/infrastructure.md).
  kms_key_arn = var.kms_key_arn

  tags = local.tags
}

module "functions" {
  source   = "../lambda_function"
  for_each = local.functions

  function_name = "${local.prefix}-${each.key}"
  description   = each.value.description
  filename      = "${var.dist_dir}/${each.key}.zip"
  runtime       = var.lambda_runtime
  architecture  = lookup(var.lambda_architectures, each.key, var.lambda_architecture)
  memory_size   = lookup(var.lambda_memory_sizes, each.key, var.lambda_memory_size)
  timeout       = each.value.timeout

  environment_variables = merge(
    local.powertools_environment,
    { POWERTOOLS_SERVICE_NAME = "ledger-${each.key}" },
    each.value.environment,
  )
  policy_statements = local.function_policy_statements[each.key]

  create_async_event_config          = each.value.async_on_failure && var.create_async_event_configs
  async_on_failure_destination_arn   = each.value.async_on_failure ? module.dead_letter_queues["${each.key}_async"].sqs_queue_arn : null
  async_maximum_retry_attempts       = var.async_maximum_retry_attempts
  async_maximum_event_age_in_seconds = var.async_maximum_event_age_in_seconds

  reserved_concurrent_executions = lookup(var.reserved_concurrent_executions, each.key, null)
  log_retention_in_days          = var.log_retention_in_days
  kms_key_arn                    = var.kms_key_arn
  application_log_level          = local.application_log_level
  system_log_level               = var.system_log_level

  tags = local.tags
}

module "events_stream" {
  source = "../event_source_mapping"

  event_source_arn           = module.events_table.dynamodb_table_stream_arn
  function_name              = module.functions["fanout"].lambda_function_arn
  enabled                    = var.live_stream_enabled
  starting_position          = "LATEST"
  batch_size                 = var.stream_batch_size
  maximum_retry_attempts     = var.stream_maximum_retry_attempts
  on_failure_destination_arn = module.dead_letter_queues["fanout_stream"].sqs_queue_arn
}

module "event_bus" {
  source = "../event_bus"

  name        = local.prefix
  kms_key_arn = var.kms_key_arn

  rules = {
    event_stored = {
      name                         = "${local.prefix}-event-stored"
      description                  = "Every stored event, to the dispatcher."
      event_pattern                = jsonencode({ source = ["ledger.events"], detail-type = ["EventStored"] })
      target_id                    = "dispatcher"
      function_arn                 = module.functions["dispatcher"].lambda_function_arn
      function_name                = module.functions["dispatcher"].lambda_function_name
      dead_letter_queue_arn        = module.dead_letter_queues["event_stored_rule"].sqs_queue_arn
      dead_letter_queue_url        = module.dead_letter_queues["event_stored_rule"].sqs_queue_url
      maximum_event_age_in_seconds = var.bus_maximum_event_age_in_seconds
      maximum_retry_attempts       = var.bus_maximum_retry_attempts
    }
    balance_changed = {
      name                         = "${local.prefix}-balance-changed"
      description                  = "Every stored event's type carrying the account, live or replayed, to the projectors."
      event_pattern                = jsonencode({ source = ["ledger.dispatcher", "ledger.replay"], detail-type = local.state_carried_types })
      target_id                    = "projectors"
      function_arn                 = module.functions["projectors"].lambda_function_arn
      function_name                = module.functions["projectors"].lambda_function_name
      dead_letter_queue_arn        = module.dead_letter_queues["balance_changed_rule"].sqs_queue_arn
      dead_letter_queue_url        = module.dead_letter_queues["balance_changed_rule"].sqs_queue_url
      maximum_event_age_in_seconds = var.bus_maximum_event_age_in_seconds
      maximum_retry_attempts       = var.bus_maximum_retry_attempts
    }
  }

  tags = local.tags
}

# Holds are released within a minute of their expiry: EventBridge Scheduler runs the
# expirer every minute (the local runtime reads this schedule back and runs the same zip).
resource "aws_scheduler_schedule" "expirer" {
  name        = "${local.prefix}-expirer"
  description = "Releases the holds past their expiry (HoldExpired)."

  schedule_expression = "rate(1 minute)"
  # The schedule's input is an empty object; encrypted with the environment's key like the rest.
  kms_key_arn = var.kms_key_arn
  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = module.functions["expirer"].lambda_function_arn
    role_arn = aws_iam_role.expirer_schedule.arn
    input    = jsonencode({})

    # A run that failed is not worth retrying late: the next one, a minute later, finds
    # the same due holds (every release is idempotent).
    retry_policy {
      maximum_event_age_in_seconds = 60
      maximum_retry_attempts       = 0
    }
    # A run the scheduler could not deliver at all (the function missing, throttled
    # beyond its age) is set aside here, and alarmed on like every dead-letter queue.
    dead_letter_config {
      arn = module.dead_letter_queues["expirer_schedule"].sqs_queue_arn
    }
  }
}

data "aws_iam_policy_document" "expirer_schedule_trust" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "expirer_schedule" {
  name               = "${local.prefix}-expirer-schedule"
  assume_role_policy = data.aws_iam_policy_document.expirer_schedule_trust.json
  tags               = local.tags
}

data "aws_iam_policy_document" "expirer_schedule" {
  statement {
    sid       = "InvokeExpirer"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.functions["expirer"].lambda_function_arn]
  }
  statement {
    sid       = "SendUndeliveredRuns"
    actions   = ["sqs:SendMessage"]
    resources = [module.dead_letter_queues["expirer_schedule"].sqs_queue_arn]
  }
  # The queue and the schedule are encrypted with the environment's key, when it has one.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "UseQueueKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "expirer_schedule" {
  name   = "invoke-expirer"
  role   = aws_iam_role.expirer_schedule.id
  policy = data.aws_iam_policy_document.expirer_schedule.json
}

locals {
  # Each write route has its own limits, below the stage's, so one runaway writer slows
  # itself down before it fills the stage's budget (and the commands' reserved concurrency).
  write_throttling = {
    burst_limit = var.api_write_throttling_burst_limit
    rate_limit  = var.api_write_throttling_rate_limit
  }
}

module "http_api" {
  source = "../http_api"

  name        = local.prefix
  description = "Ledger accounts API: accounts, credits, debits, transfers, balances and event history."

  integrations = {
    for name in ["commands", "queries"] : name => {
      function_name = module.functions[name].lambda_function_name
      invoke_arn    = module.functions[name].lambda_function_invoke_arn
    }
  }

  # Every route needs a valid token. Writes need their back-office scope; reads need any
  # valid token here, and the queries function checks that it owns the account (or one
  # of the transfer's) or holds ledger/accounts.read (docs/security.md).
  jwt_issuer   = var.jwt_issuer
  jwt_audience = var.jwt_audience
  routes = {
    post_accounts        = { route_key = "POST /accounts", integration = "commands", authorization_scopes = [local.manage_scope], throttling = local.write_throttling }
    post_freeze          = { route_key = "POST /accounts/{accountId}/freeze", integration = "commands", authorization_scopes = [local.manage_scope], throttling = local.write_throttling }
    post_unfreeze        = { route_key = "POST /accounts/{accountId}/unfreeze", integration = "commands", authorization_scopes = [local.manage_scope], throttling = local.write_throttling }
    post_close           = { route_key = "POST /accounts/{accountId}/close", integration = "commands", authorization_scopes = [local.manage_scope], throttling = local.write_throttling }
    post_overdraft_limit = { route_key = "POST /accounts/{accountId}/overdraft-limit", integration = "commands", authorization_scopes = [local.manage_scope], throttling = local.write_throttling }
    post_credits         = { route_key = "POST /accounts/{accountId}/credits", integration = "commands", authorization_scopes = [local.write_scope], throttling = local.write_throttling }
    post_debits          = { route_key = "POST /accounts/{accountId}/debits", integration = "commands", authorization_scopes = [local.write_scope], throttling = local.write_throttling }
    post_transfers       = { route_key = "POST /transfers", integration = "commands", authorization_scopes = [local.write_scope], throttling = local.write_throttling }
    get_accounts         = { route_key = "GET /accounts", integration = "queries" }
    get_account          = { route_key = "GET /accounts/{accountId}", integration = "queries" }
    get_balance          = { route_key = "GET /accounts/{accountId}/balance", integration = "queries" }
    get_events           = { route_key = "GET /accounts/{accountId}/events", integration = "queries" }
    get_statement        = { route_key = "GET /accounts/{accountId}/statements/{month}", integration = "queries" }
    get_transfer         = { route_key = "GET /transfers/{transferId}", integration = "queries" }
    post_holds           = { route_key = "POST /accounts/{accountId}/holds", integration = "commands", authorization_scopes = [local.write_scope], throttling = local.write_throttling }
    post_hold_capture    = { route_key = "POST /holds/{holdId}/capture", integration = "commands", authorization_scopes = [local.write_scope], throttling = local.write_throttling }
    post_hold_void       = { route_key = "POST /holds/{holdId}/void", integration = "commands", authorization_scopes = [local.write_scope], throttling = local.write_throttling }
    get_holds            = { route_key = "GET /accounts/{accountId}/holds", integration = "queries" }
    get_hold             = { route_key = "GET /holds/{holdId}", integration = "queries" }
    # Issue 14: reversals move money, like the postings they reverse.
    post_entry_reversal    = { route_key = "POST /accounts/{accountId}/events/{version}/reversal", integration = "commands", authorization_scopes = [local.write_scope], throttling = local.write_throttling }
    post_transfer_reversal = { route_key = "POST /transfers/{transferId}/reversal", integration = "commands", authorization_scopes = [local.write_scope], throttling = local.write_throttling }
    # Every other request gets the API's own not_found error, not API Gateway's.
    default = { route_key = "$default", integration = "queries" }
  }

  throttling_burst_limit           = var.api_throttling_burst_limit
  throttling_rate_limit            = var.api_throttling_rate_limit
  integration_timeout_milliseconds = local.api_integration_timeout_milliseconds
  log_retention_in_days            = var.log_retention_in_days
  kms_key_arn                      = var.kms_key_arn

  tags = local.tags
}

locals {
  # AWS/Lambda metrics alarmed on for every function, and what a breach means.
  function_alarm_metrics = {
    Errors    = "failed invocations"
    Throttles = "invocations refused for lack of concurrency"
  }
}

module "alarms" {
  source = "../metric_alarms"

  alarms = merge(
    {
      for key, queue in local.dead_letter_queues : "${key}_not_empty" => {
        name                = "${queue.name}-not-empty"
        description         = "Messages were set aside in ${queue.name}: inspect them and re-drive."
        namespace           = "AWS/SQS"
        metric_name         = "ApproximateNumberOfMessagesVisible"
        dimensions          = { QueueName = module.dead_letter_queues[key].sqs_queue_name }
        statistic           = "Maximum"
        period              = 60
        evaluation_periods  = 1
        threshold           = 0
        comparison_operator = "GreaterThanThreshold"
      }
    },
    {
      # Failed and throttled invocations: one alarm per function and metric.
      for pair in setproduct(keys(module.functions), keys(local.function_alarm_metrics)) :
      "${pair[0]}_${lower(pair[1])}" => {
        name                = "${module.functions[pair[0]].lambda_function_name}-${lower(pair[1])}"
        description         = "${module.functions[pair[0]].lambda_function_name} ${local.function_alarm_metrics[pair[1]]}."
        namespace           = "AWS/Lambda"
        metric_name         = pair[1]
        dimensions          = { FunctionName = module.functions[pair[0]].lambda_function_name }
        statistic           = "Sum"
        period              = 60
        evaluation_periods  = 1
        threshold           = 0
        comparison_operator = "GreaterThanThreshold"
      }
    },
    {
      projection_lag = {
        name                = "${local.prefix}-projection-lag"
        description         = "Read models trail the stored events: balances served are stale."
        namespace           = "Ledger"
        metric_name         = "ProjectionLag"
        dimensions          = { service = "ledger-projectors" }
        statistic           = "Maximum"
        period              = 60
        evaluation_periods  = 5
        threshold           = var.projection_lag_alarm_milliseconds
        comparison_operator = "GreaterThanThreshold"
      }
      fanout_iterator_age = {
        name                = "${module.functions["fanout"].lambda_function_name}-iterator-age"
        description         = "The events stream is read late: projections lag behind the stored events."
        namespace           = "AWS/Lambda"
        metric_name         = "IteratorAge"
        dimensions          = { FunctionName = module.functions["fanout"].lambda_function_name }
        statistic           = "Maximum"
        period              = 60
        evaluation_periods  = 5
        threshold           = var.stream_iterator_age_alarm_milliseconds
        comparison_operator = "GreaterThanThreshold"
      }
    },
  )
  alarm_actions = concat(var.alarm_actions, module.alarm_topic[*].sns_topic_arn)

  tags = local.tags
}

module "alarm_topic" {
  source = "../sns_topic"
  count  = var.alarm_topic_enabled ? 1 : 0

  name            = "${local.prefix}-alarms"
  account_id      = local.account_id
  partition       = local.partition
  email_addresses = var.alarm_email_addresses

  tags = local.tags
}

locals {
  # Taken from a resource's ARN rather than data sources, so that planning needs no
  # AWS call (the offline plans of dev and prod in tests/infra rely on it).
  account_id       = split(":", module.events_table.dynamodb_table_arn)[4]
  partition        = split(":", module.events_table.dynamodb_table_arn)[1]
  dashboard_region = split(":", module.events_table.dynamodb_table_arn)[3]
  function_names   = [for function in module.functions : function.lambda_function_name]

  # One time series per function for a metric of the AWS/Lambda namespace.
  lambda_metric = {
    for metric in ["Invocations", "Errors", "Throttles", "Duration"] : metric => [
      for name in local.function_names : ["AWS/Lambda", metric, "FunctionName", name]
    ]
  }
}

module "dashboard" {
  source = "../dashboard"

  name = local.prefix
  widgets = [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title  = "Commands accepted and rejected (by code)"
        region = local.dashboard_region
        stat   = "Sum"
        period = 60
        metrics = [
          [{ expression = "SEARCH('{Ledger,service,type} MetricName=\"CommandAccepted\"', 'Sum', 60)", id = "accepted" }],
          [{ expression = "SEARCH('{Ledger,service,code} MetricName=\"CommandRejected\"', 'Sum', 60)", id = "rejected" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = {
        title  = "Version conflicts retried, events fanned out and dispatched"
        region = local.dashboard_region
        stat   = "Sum"
        period = 60
        metrics = [
          ["Ledger", "VersionConflictRetried", "service", "ledger-commands"],
          ["Ledger", "EventsFannedOut", "service", "ledger-fanout"],
          ["Ledger", "FanoutRecordsFailed", "service", "ledger-fanout"],
          [{ expression = "SEARCH('{Ledger,service,type} MetricName=\"EventsDispatched\"', 'Sum', 60)", id = "dispatched" }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = {
        title  = "Projection lag (ms): recorded to read model written"
        region = local.dashboard_region
        period = 60
        metrics = [
          ["Ledger", "ProjectionLag", "service", "ledger-projectors", { stat = "p50" }],
          ["Ledger", "ProjectionLag", "service", "ledger-projectors", { stat = "p99" }],
          ["Ledger", "ProjectionLag", "service", "ledger-projectors", { stat = "Maximum" }],
        ]
        annotations = { horizontal = [{ label = "alarm", value = var.projection_lag_alarm_milliseconds }] }
      }
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = {
        title  = "Records sent to dead-letter queues"
        region = local.dashboard_region
        stat   = "Sum"
        period = 60
        metrics = [
          for key, queue in module.dead_letter_queues : ["AWS/SQS", "NumberOfMessagesSent", "QueueName", queue.sqs_queue_name]
        ]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 12, height = 6
      properties = {
        title   = "Function errors and throttles"
        region  = local.dashboard_region
        stat    = "Sum"
        period  = 60
        metrics = concat(local.lambda_metric["Errors"], local.lambda_metric["Throttles"])
      }
    },
    {
      type = "metric", x = 12, y = 12, width = 12, height = 6
      properties = {
        title  = "Events stream iterator age (ms)"
        region = local.dashboard_region
        stat   = "Maximum"
        period = 60
        metrics = [
          ["AWS/Lambda", "IteratorAge", "FunctionName", module.functions["fanout"].lambda_function_name],
        ]
      }
    },
  ]
}
