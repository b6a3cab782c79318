output "metric_alarm_arns" {
  description = "ARN of each alarm, by its key in var.alarms."
  value       = { for k, a in aws_cloudwatch_metric_alarm.this : k => a.arn }
}

output "metric_alarm_names" {
  description = "Name of each alarm, by its key in var.alarms."
  value       = { for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name }
}
