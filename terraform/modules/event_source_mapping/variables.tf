variable "event_source_arn" {
  description = "ARN of the DynamoDB or Kinesis stream to read."
  type        = string
}

variable "function_name" {
  description = "Name or ARN of the function the records are sent to."
  type        = string
}

variable "enabled" {
  description = "Whether the mapping polls the stream."
  type        = bool
  default     = true
}

variable "starting_position" {
  description = "Where a new mapping starts reading: LATEST or TRIM_HORIZON."
  type        = string
  default     = "LATEST"

  validation {
    condition     = contains(["LATEST", "TRIM_HORIZON"], var.starting_position)
    error_message = "The starting position must be LATEST or TRIM_HORIZON."
  }
}

variable "batch_size" {
  description = "Most records sent to one invocation."
  type        = number
  default     = 100
}

variable "maximum_batching_window_in_seconds" {
  description = "How long to gather records before invoking, in seconds (0 sends at once)."
  type        = number
  default     = 0
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1 to 10); order is kept per partition key whatever the value."
  type        = number
  default     = 1
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its records go to the on-failure destination (0 to 10000; never -1, which retries forever)."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 10000
    error_message = "Retries must be finite: 0 to 10000."
  }
}

variable "maximum_record_age_in_seconds" {
  description = "Age after which a record is sent to the on-failure destination unprocessed (60 to 604800; never -1, which keeps it forever)."
  type        = number
  default     = 3600

  validation {
    condition     = var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 604800
    error_message = "The maximum record age must be finite: 60 to 604800 seconds."
  }
}

variable "on_failure_destination_arn" {
  description = "SQS queue or SNS topic ARN receiving the description of records given up on. The function's role needs permission to send to it."
  type        = string
}
