output "sqs_queue_arn" {
  description = "ARN of the queue."
  value       = aws_sqs_queue.this.arn
}

output "sqs_queue_url" {
  description = "URL of the queue."
  value       = aws_sqs_queue.this.url
}

output "sqs_queue_name" {
  description = "Name of the queue."
  value       = aws_sqs_queue.this.name
}
