output "api_endpoint" {
  description = "Base URL of the HTTP API."
  value       = module.ledger.api_endpoint
}

output "ledger" {
  description = "Every output of the ledger module (tables, stream, bus, functions, queues, alarms), by name: `terraform output -json ledger`."
  value       = module.ledger
}

output "cognito_token_endpoint" {
  description = "Where back-office clients get tokens (client credentials), with the environment's Cognito pool."
  value       = one(module.cognito[*].cognito_token_endpoint)
}

output "cognito_back_office_client_ids" {
  description = "Identifier of each back-office client, by name, with the environment's Cognito pool."
  value       = one(module.cognito[*].cognito_back_office_client_ids)
}
