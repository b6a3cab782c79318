variable "name" {
  description = "Name of the custom event bus."
  type        = string
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key encrypting the bus's events at rest, or null for the AWS-owned key."
  type        = string
  default     = null
}

variable "rules" {
  description = "Rules on the bus, by Terraform key; each sends what it matches to one Lambda function, with a retry policy and a dead-letter queue, which this module lets the rule (and only it) write to."
  type = map(object({
    name                         = string
    description                  = string
    event_pattern                = string
    target_id                    = string
    function_arn                 = string
    function_name                = string
    dead_letter_queue_arn        = string
    dead_letter_queue_url        = string
    maximum_event_age_in_seconds = number
    maximum_retry_attempts       = number
  }))

  validation {
    condition = alltrue([
      for r in values(var.rules) :
      r.maximum_event_age_in_seconds >= 60 && r.maximum_event_age_in_seconds <= 86400 &&
      r.maximum_retry_attempts >= 0 && r.maximum_retry_attempts <= 185
    ])
    error_message = "Retry policies need a maximum event age of 60 to 86400 seconds and 0 to 185 retries."
  }
}

variable "tags" {
  description = "Tags for the bus and its rules."
  type        = map(string)
  default     = {}
}
