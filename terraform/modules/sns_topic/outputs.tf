output "sns_topic_arn" {
  description = "ARN of the topic."
  value       = aws_sns_topic.this.arn
}

output "sns_topic_name" {
  description = "Name of the topic."
  value       = aws_sns_topic.this.name
}

output "kms_key_arn" {
  description = "ARN of the key encrypting the topic, when the module created it (null when kms_key_id was given)."
  value       = one(aws_kms_key.this[*].arn)
}
