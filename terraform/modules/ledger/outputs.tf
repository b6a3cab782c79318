output "api_id" {
  description = "Identifier of the HTTP API."
  value       = module.http_api.http_api_id
}

output "api_endpoint" {
  description = "Base URL of the HTTP API."
  value       = module.http_api.http_api_endpoint
}

output "api_routes" {
  description = "Route keys of the HTTP API."
  value       = module.http_api.http_api_routes
}

output "events_table_name" {
  description = "Name of the events table."
  value       = module.events_table.dynamodb_table_name
}

output "events_stream_arn" {
  description = "ARN of the events table's stream."
  value       = module.events_table.dynamodb_table_stream_arn
}

output "idempotency_table_name" {
  description = "Name of the idempotency keys table."
  value       = module.idempotency_table.dynamodb_table_name
}

output "transfers_table_name" {
  description = "Name of the transfers table (one record per transfer)."
  value       = module.transfers_table.dynamodb_table_name
}

output "projections_table_name" {
  description = "Name of the read models table."
  value       = module.projections_table.dynamodb_table_name
}

output "event_bus_name" {
  description = "Name of the custom event bus."
  value       = module.event_bus.event_bus_name
}

output "event_rule_names" {
  description = "Name of each bus rule, by key (event_stored, balance_changed)."
  value       = module.event_bus.event_bus_rule_names
}

output "function_names" {
  description = "Function name by Lambda directory (commands, queries, fanout, dispatcher, projectors, replay)."
  value       = { for name, function in module.functions : name => function.lambda_function_name }
}

output "function_arns" {
  description = "Function ARN by Lambda directory."
  value       = { for name, function in module.functions : name => function.lambda_function_arn }
}

output "dead_letter_queue_urls" {
  description = "URL of each dead-letter queue, by the hop it guards (fanout_stream, event_stored_rule, balance_changed_rule, dispatcher_async, projectors_async)."
  value       = { for key, queue in module.dead_letter_queues : key => queue.sqs_queue_url }
}

output "dead_letter_queue_arns" {
  description = "ARN of each dead-letter queue, by the hop it guards."
  value       = { for key, queue in module.dead_letter_queues : key => queue.sqs_queue_arn }
}

output "alarm_names" {
  description = "Name of each CloudWatch alarm, by key."
  value       = module.alarms.metric_alarm_names
}

output "async_invocation" {
  description = "Retry limits and on-failure queue of each asynchronously invoked function, by Lambda directory (declared on the functions unless create_async_event_configs is off)."
  value = {
    for name, function in local.functions : name => {
      maximum_retry_attempts       = var.async_maximum_retry_attempts
      maximum_event_age_in_seconds = var.async_maximum_event_age_in_seconds
      on_failure_queue_arn         = module.dead_letter_queues["${name}_async"].sqs_queue_arn
      on_failure_queue_url         = module.dead_letter_queues["${name}_async"].sqs_queue_url
    } if function.async_on_failure
  }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.dashboard.dashboard_name
}

output "alarm_topic_arn" {
  description = "ARN of the alarm topic, when alarm_topic_enabled."
  value       = one(module.alarm_topic[*].sns_topic_arn)
}

output "jwt_issuer" {
  description = "Issuer whose tokens the HTTP API accepts."
  value       = var.jwt_issuer
}

output "jwt_audience" {
  description = "Audiences (or client ids) the HTTP API accepts."
  value       = var.jwt_audience
}

output "holds_table_name" {
  description = "Name of the holds table (one record per hold, with its status)."
  value       = module.holds_table.dynamodb_table_name
}
