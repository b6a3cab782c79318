variable "function_name" {
  description = "Name of the function; also names its role and its log group (/aws/lambda/<name>)."
  type        = string
}

variable "description" {
  description = "What the function does."
  type        = string
  default     = ""
}

variable "filename" {
  description = "Path of the deployment zip; its SHA-256 decides whether the code is updated."
  type        = string
}

variable "handler" {
  description = "Entry point, module.function."
  type        = string
  default     = "handler.lambda_handler"
}

variable "runtime" {
  description = "Lambda runtime identifier."
  type        = string
  default     = "python3.11"
}

variable "architecture" {
  description = "Instruction set the zip was built for (x86_64 or arm64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "memory_size" {
  description = "Memory in MB (CPU scales with it)."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Maximum run time of one invocation, in seconds."
  type        = number
  default     = 10
}

variable "environment_variables" {
  description = "Environment variables of the function."
  type        = map(string)
  default     = {}
}

variable "policy_statements" {
  description = "The Allow statements of the function's role beyond its own logs and X-Ray: only the actions it calls, on only the resources it touches, and under conditions (e.g. which events:source it may publish)."
  type = list(object({
    sid       = string
    actions   = list(string)
    resources = list(string)
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default = []

  validation {
    condition = alltrue([
      for s in var.policy_statements : !anytrue([for a in s.actions : a == "*" || endswith(a, ":*")])
    ])
    error_message = "Name each action: no \"*\" or \"service:*\" actions."
  }

  validation {
    condition     = alltrue([for s in var.policy_statements : !contains(s.resources, "*")])
    error_message = "Name each resource: no \"*\" resources."
  }
}

variable "log_retention_in_days" {
  description = "How long the function's logs are kept."
  type        = number
  default     = 30
}

variable "log_format" {
  description = "Format Lambda sends the function's logs in (JSON or Text). JSON is what lets Lambda filter them by level (application_log_level, system_log_level); our application lines are JSON already (powertools Logger)."
  type        = string
  default     = "JSON"

  validation {
    condition     = contains(["JSON", "Text"], var.log_format)
    error_message = "The log format must be JSON or Text."
  }
}

variable "application_log_level" {
  description = "Least severe application line Lambda sends to CloudWatch Logs with the JSON format (Lambda sets it as AWS_LAMBDA_LOG_LEVEL, which powertools Logger takes as its own level). A line without a level, such as an embedded-metric-format record, counts as INFO, so above INFO the metrics would be lost too."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "The application log level must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL."
  }
}

variable "system_log_level" {
  description = "Least severe line of Lambda's own (platform) logs sent to CloudWatch Logs with the JSON format. WARN drops the START, END and REPORT records of every invocation (docs/infrastructure.md, \"Logs and their cost\"): durations and errors stay in Lambda's metrics, and timeouts and crashes are still logged."
  type        = string
  default     = "WARN"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "The system log level must be one of DEBUG, INFO, WARN."
  }
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the environment variables and the log group, or null for AWS-managed encryption. Its key policy must let CloudWatch Logs use it."
  type        = string
  default     = null
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) the function, or null to share the account's unreserved pool."
  type        = number
  default     = null
}

variable "create_async_event_config" {
  description = "Whether the function is invoked asynchronously (e.g. by EventBridge) and so needs retry limits and an on-failure destination."
  type        = bool
  default     = false
}

variable "async_on_failure_destination_arn" {
  description = "SQS queue ARN receiving asynchronous invocations that failed every attempt; required when create_async_event_config is true."
  type        = string
  default     = null
}

variable "async_maximum_retry_attempts" {
  description = "Retries of a failed asynchronous invocation (0 to 2)."
  type        = number
  default     = 2
}

variable "async_maximum_event_age_in_seconds" {
  description = "Age after which an asynchronous event is sent to the on-failure destination unprocessed (60 to 21600)."
  type        = number
  default     = 3600
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
