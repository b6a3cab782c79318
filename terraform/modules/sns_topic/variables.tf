variable "name" {
  description = "Name of the topic."
  type        = string
}

variable "account_id" {
  description = "AWS account whose CloudWatch alarms may publish to the topic."
  type        = string
}

variable "kms_key_id" {
  description = "KMS key (id, ARN or alias) encrypting the topic; the AWS-managed SNS key by default."
  type        = string
  default     = "alias/aws/sns"
}

variable "email_addresses" {
  description = "Addresses subscribed by email (each must confirm the subscription)."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for the topic."
  type        = map(string)
  default     = {}
}
