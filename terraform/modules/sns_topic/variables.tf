variable "name" {
  description = "Name of the topic."
  type        = string
}

variable "account_id" {
  description = "AWS account whose CloudWatch alarms may publish to the topic."
  type        = string
}

variable "kms_key_id" {
  description = "Customer-managed KMS key (id, ARN or alias) encrypting the topic, whose policy lets cloudwatch.amazonaws.com use kms:Decrypt and kms:GenerateDataKey*; null creates one. Never alias/aws/sns: CloudWatch cannot use it."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_id != "alias/aws/sns"
    error_message = "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key."
  }
}

variable "partition" {
  description = "AWS partition of the account (aws, aws-cn, aws-us-gov)."
  type        = string
  default     = "aws"
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
