variable "name" {
  description = "Name of the table."
  type        = string
}

variable "hash_key" {
  description = "Attribute name of the partition key."
  type        = string
}

variable "range_key" {
  description = "Attribute name of the sort key, or null for a table without one."
  type        = string
  default     = null
}

variable "attributes" {
  description = "Key attributes and their DynamoDB scalar type (S, N or B), by attribute name."
  type        = map(string)

  validation {
    condition     = alltrue([for t in values(var.attributes) : contains(["S", "N", "B"], t)])
    error_message = "Attribute types must be S, N or B."
  }
}

variable "global_secondary_indexes" {
  description = "Global secondary indexes by name: partition key, sort key (or null) and projection type (ALL, KEYS_ONLY). Their key attributes must be in attributes."
  type = map(object({
    hash_key        = string
    range_key       = optional(string)
    projection_type = string
  }))
  default = {}
}

variable "stream_view_type" {
  description = "What the table's stream carries (NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY), or null for no stream."
  type        = string
  default     = null
}

variable "point_in_time_recovery_enabled" {
  description = "Whether continuous backups (point-in-time recovery) are on."
  type        = bool
  default     = true
}

variable "deletion_protection_enabled" {
  description = "Whether the table refuses to be deleted."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for server-side encryption, or null for the AWS-managed key (aws/dynamodb)."
  type        = string
  default     = null
}

variable "ttl_attribute_name" {
  description = "Attribute holding an epoch-seconds expiry time after which DynamoDB deletes the item, or null for no TTL."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for the table."
  type        = map(string)
  default     = {}
}
