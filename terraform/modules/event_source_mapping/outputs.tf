output "event_source_mapping_uuid" {
  description = "Identifier of the mapping."
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "event_source_mapping_function_arn" {
  description = "ARN of the function the mapping invokes."
  value       = aws_lambda_event_source_mapping.this.function_arn
}
