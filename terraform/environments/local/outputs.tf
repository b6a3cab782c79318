output "api_endpoint" {
  description = "Base URL of the HTTP API."
  value       = module.ledger.api_endpoint
}

output "ledger" {
  description = "Every output of the ledger module (tables, stream, bus, functions, queues, alarms), by name: `terraform output -json ledger`."
  value       = module.ledger
}
