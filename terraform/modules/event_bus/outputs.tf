output "event_bus_name" {
  description = "Name of the bus."
  value       = aws_cloudwatch_event_bus.this.name
}

output "event_bus_arn" {
  description = "ARN of the bus."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "event_bus_rule_arns" {
  description = "ARN of each rule, by the key it has in var.rules."
  value       = { for k, r in aws_cloudwatch_event_rule.this : k => r.arn }
}

output "event_bus_rule_names" {
  description = "Name of each rule, by the key it has in var.rules."
  value       = { for k, r in aws_cloudwatch_event_rule.this : k => r.name }
}
