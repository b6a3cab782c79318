output "api_id" {
  description = "Identifier of the HTTP API."
  value       = module.ledger.api_id
}

output "api_endpoint" {
  description = "Base URL of the HTTP API."
  value       = module.ledger.api_endpoint
}

output "events_table_name" {
  description = "Name of the events table."
  value       = module.ledger.events_table_name
}

output "events_stream_arn" {
  description = "ARN of the events table's stream."
  value       = module.ledger.events_stream_arn
}

output "projections_table_name" {
  description = "Name of the read models table."
  value       = module.ledger.projections_table_name
}

output "idempotency_table_name" {
  description = "Name of the idempotency keys table."
  value       = module.ledger.idempotency_table_name
}

output "event_bus_name" {
  description = "Name of the custom event bus."
  value       = module.ledger.event_bus_name
}

output "event_rule_names" {
  description = "Name of each bus rule, by key."
  value       = module.ledger.event_rule_names
}

output "function_names" {
  description = "Function name by Lambda directory."
  value       = module.ledger.function_names
}

output "dead_letter_queue_urls" {
  description = "URL of each dead-letter queue, by the hop it guards."
  value       = module.ledger.dead_letter_queue_urls
}

output "alarm_names" {
  description = "Name of each CloudWatch alarm, by key."
  value       = module.ledger.alarm_names
}

output "async_invocation" {
  description = "Retry limits and on-failure queue of each asynchronously invoked function, by Lambda directory."
  value       = module.ledger.async_invocation
}

output "jwt_issuer" {
  description = "Issuer whose tokens the HTTP API accepts."
  value       = module.ledger.jwt_issuer
}

output "jwt_audience" {
  description = "Audiences (or client ids) the HTTP API accepts."
  value       = module.ledger.jwt_audience
}

output "cognito_token_endpoint" {
  description = "Where back-office clients get tokens (client credentials), with the environment's Cognito pool."
  value       = one(module.cognito[*].cognito_token_endpoint)
}

output "cognito_back_office_client_ids" {
  description = "Identifier of each back-office client, by name, with the environment's Cognito pool."
  value       = one(module.cognito[*].cognito_back_office_client_ids)
}
