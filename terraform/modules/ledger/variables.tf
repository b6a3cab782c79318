variable "environment" {
  description = "Environment name (local, dev, prod); every resource is named ledger-<environment>-…"
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.environment))
    error_message = "The environment must be lower-case letters, digits and -, starting with a letter, at most 20 characters."
  }
}

variable "dist_dir" {
  description = "Directory holding the Lambda zips built by scripts/package.sh (<directory>.zip for each function)."
  type        = string
}

variable "lambda_runtime" {
  description = "Lambda runtime of every function; the zips are built for it (scripts/build_zip.py) and the tests run on the same Python."
  type        = string
  default     = "python3.11"
}

variable "lambda_memory_size" {
  description = "Memory in MB of a function lambda_memory_sizes does not name (CPU scales with it)."
  type        = number
  default     = 256
}

variable "lambda_memory_sizes" {
  description = "Memory in MB by function (directory name under lambdas/), from each one's measured use (docs/infrastructure.md, \"Memory and architecture\"): the asynchronous hops peak near 50 MB and wait on DynamoDB and EventBridge, so 128 MB; the API functions keep lambda_memory_size for the CPU that answers clients sooner."
  type        = map(number)
  default = {
    fanout     = 128
    dispatcher = 128
    projectors = 128
  }

  validation {
    condition     = alltrue([for size in values(var.lambda_memory_sizes) : size >= 128 && size <= 10240])
    error_message = "Lambda memory is 128 to 10240 MB."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of a function lambda_architectures does not name. arm64 costs 20% less per GB-second; every package the zips carry is pure Python or (wrapt, loaded only when tracing_sdk_enabled) falls back to its pure-Python code where its x86_64 extension cannot load."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "lambda_architectures" {
  description = "Instruction set by function (directory name under lambdas/), where one must differ from lambda_architecture."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for a in values(var.lambda_architectures) : contains(["x86_64", "arm64"], a)])
    error_message = "Each architecture must be x86_64 or arm64."
  }
}

variable "overdraft_limit" {
  description = "The overdraft limit of the accounts whose history predates accounts (opened accounts carry their own): a non-negative decimal string with at most 2 decimals (OVERDRAFT_LIMIT)."
  type        = string
  default     = "0.00"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]{1,2})?$", var.overdraft_limit))
    error_message = "The overdraft limit must be a non-negative decimal with at most 2 decimals, e.g. 0.00 or 250.00."
  }
}

variable "legacy_currency" {
  description = "ISO 4217 code (with two decimals) of the accounts whose history predates accounts, i.e. was first stored without an AccountOpened (LEGACY_CURRENCY; docs/events.md): how they read, never how new accounts are opened."
  type        = string
  default     = "EUR"

  validation {
    condition     = can(regex("^[A-Z]{3}$", var.legacy_currency))
    error_message = "The legacy currency must be an ISO 4217 code of three capital letters, e.g. EUR."
  }
}

variable "ledger_timezone" {
  description = "IANA time zone whose calendar months the current-month balance follows (LEDGER_TIMEZONE)."
  type        = string
  default     = "UTC"
}

variable "log_level" {
  description = "Log level of every function (POWERTOOLS_LOG_LEVEL): INFO logs errors and the audit line of every write; DEBUG adds a line per hop of every event."
  type        = string
  default     = "INFO"
}

variable "system_log_level" {
  description = "Least severe line of Lambda's own logs (START, END, REPORT records and the like) each function sends to CloudWatch Logs. WARN keeps only Lambda's warnings and errors (timeouts, crashes): the per-invocation records are three lines per invocation; their durations are in Lambda's metrics, and their memory used is the one figure lost (set INFO for a while to re-measure it before resizing memory; docs/infrastructure.md, \"Logs and their cost\")."
  type        = string
  default     = "WARN"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "The system log level must be one of DEBUG, INFO, WARN."
  }
}

variable "log_sample_rate" {
  description = "Fraction of invocations that log at DEBUG, i.e. with a line per hop of each event (POWERTOOLS_LOGGER_SAMPLE_RATE): enough to follow a sample of events' journeys without paying for every one (docs/infrastructure.md, \"Logs and their cost\")."
  type        = number
  default     = 0.01

  validation {
    condition     = var.log_sample_rate >= 0 && var.log_sample_rate <= 1
    error_message = "The log sample rate is a fraction from 0 to 1."
  }
}

variable "tracing_sdk_enabled" {
  description = "Whether the functions trace with the X-Ray SDK (POWERTOOLS_TRACE_DISABLED is its negation): a subsegment per AWS call, for a third more import time at each cold start. Lambda's Active tracing records every invocation either way."
  type        = bool
  default     = false
}

variable "log_retention_in_days" {
  description = "How long function and access logs are kept."
  type        = number
  default     = 30
}

variable "deletion_protection_enabled" {
  description = "Whether the tables refuse to be deleted (on in prod)."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the tables, the function environments, the log groups, the event bus and the dead-letter queues, or null for AWS-managed encryption. Its key policy must let DynamoDB, Lambda, CloudWatch Logs and EventBridge use it; the functions' roles are given kms:Decrypt and kms:GenerateDataKey on it."
  type        = string
  default     = null
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) functions, by directory name (e.g. { commands = 100 }): commands' reservation keeps a flood of reads from starving writes; functions not listed share the account's pool."
  type        = map(number)
  default     = {}
}

variable "live_stream_enabled" {
  description = "Whether the fanout reads the events table's stream (false pauses the live path; stored events wait in the stream for 24 hours)."
  type        = bool
  default     = true
}

variable "stream_batch_size" {
  description = "Most stream records one fanout invocation receives."
  type        = number
  default     = 100
}

variable "stream_maximum_retry_attempts" {
  description = "Retries of a failing stream batch before its records are set aside."
  type        = number
  default     = 5
}

variable "bus_maximum_event_age_in_seconds" {
  description = "How long EventBridge keeps retrying to deliver an event to a function."
  type        = number
  default     = 3600
}

variable "bus_maximum_retry_attempts" {
  description = "How many times EventBridge retries delivering an event to a function."
  type        = number
  default     = 10
}

variable "create_async_event_configs" {
  description = "Whether to declare the retry limits and on-failure destination of the asynchronously invoked functions (dispatcher, projectors). Only an emulator that cannot store them should turn this off; the same settings stay in the async_invocation output."
  type        = bool
  default     = true
}

variable "async_maximum_retry_attempts" {
  description = "Retries (0 to 2) of a dispatcher or projectors invocation that failed."
  type        = number
  default     = 2
}

variable "async_maximum_event_age_in_seconds" {
  description = "Age after which an event queued for the dispatcher or projectors is set aside unprocessed."
  type        = number
  default     = 3600
}

variable "api_write_throttling_burst_limit" {
  description = "Requests each write route (opening and managing accounts, credits, debits, transfers) accepts in a burst."
  type        = number
  default     = 50
}

variable "api_write_throttling_rate_limit" {
  description = "Steady-state requests per second each write route (opening and managing accounts, credits, debits, transfers) accepts."
  type        = number
  default     = 25
}

variable "api_throttling_burst_limit" {
  description = "Requests the HTTP API accepts in a burst."
  type        = number
  default     = 200
}

variable "api_throttling_rate_limit" {
  description = "Steady-state requests per second the HTTP API accepts."
  type        = number
  default     = 100
}

variable "stream_iterator_age_alarm_milliseconds" {
  description = "Age of the oldest unread stream record above which the iterator-age alarm fires."
  type        = number
  default     = 60000
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic) notified when an alarm fires or clears."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "projection_lag_alarm_milliseconds" {
  description = "Projection lag (event recorded to read model written) above which the projection-lag alarm fires."
  type        = number
  default     = 30000
}

variable "alarm_topic_enabled" {
  description = "Create an SNS topic that every alarm notifies (in addition to alarm_actions)."
  type        = bool
  default     = false
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the alarm topic, when it is enabled."
  type        = list(string)
  default     = []
}

variable "jwt_issuer" {
  description = "Issuer URL of the tokens the HTTP API accepts (a Cognito user pool's, see modules/cognito, or any OpenID provider's)."
  type        = string
}

variable "jwt_audience" {
  description = "Audiences (or, for tokens without aud, client ids) the HTTP API accepts."
  type        = list(string)
}
