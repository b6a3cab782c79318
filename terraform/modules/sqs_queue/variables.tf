variable "name" {
  description = "Name of the queue."
  type        = string
}

variable "message_retention_seconds" {
  description = "How long a message stays in the queue (60 to 1209600 seconds)."
  type        = number
  default     = 1209600
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key to encrypt messages with, or null for SQS-managed encryption (SSE-SQS), which every AWS service can write to without a key policy."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the queue."
  type        = map(string)
  default     = {}
}
