output "dynamodb_table_name" {
  description = "Name of the table."
  value       = aws_dynamodb_table.this.name
}

output "dynamodb_table_arn" {
  description = "ARN of the table."
  value       = aws_dynamodb_table.this.arn
}

output "dynamodb_table_stream_arn" {
  description = "ARN of the table's stream, or null when it has none."
  value       = var.stream_view_type == null ? null : aws_dynamodb_table.this.stream_arn
}

output "dynamodb_table_index_arns" {
  description = "ARN of each global secondary index, by name (what a query of it is granted on)."
  value       = { for name in keys(var.global_secondary_indexes) : name => "${aws_dynamodb_table.this.arn}/index/${name}" }
}
