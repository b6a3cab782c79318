module "ledger" {
  source = "../../modules/ledger"

  environment = "dev"
  dist_dir    = coalesce(var.dist_dir, "${path.root}/../../../dist")

  overdraft_limit = var.overdraft_limit
  legacy_currency = var.legacy_currency
  ledger_timezone = var.ledger_timezone

  deletion_protection_enabled    = var.deletion_protection_enabled
  kms_key_arn                    = var.kms_key_arn
  log_retention_in_days          = var.log_retention_in_days
  reserved_concurrent_executions = var.reserved_concurrent_executions
  alarm_actions                  = var.alarm_actions

  jwt_issuer   = local.jwt_issuer
  jwt_audience = local.jwt_audience
}

# The environment's own identity provider, unless jwt_issuer names another one.
module "cognito" {
  source = "../../modules/cognito"
  count  = var.jwt_issuer == null ? 1 : 0

  name                = "ledger-dev"
  domain_prefix       = var.cognito_domain_prefix
  callback_urls       = var.cognito_callback_urls
  back_office_clients = var.cognito_back_office_clients
  deletion_protection = false
}

locals {
  jwt_issuer   = var.jwt_issuer == null ? module.cognito[0].cognito_issuer : var.jwt_issuer
  jwt_audience = var.jwt_issuer == null ? module.cognito[0].cognito_client_ids : var.jwt_audience
}
