module "ledger" {
  source = "../../modules/ledger"

  environment = "dev"
  dist_dir    = coalesce(var.dist_dir, "${path.root}/../../../dist")

  overdraft_limit = var.overdraft_limit
  ledger_timezone = var.ledger_timezone

  deletion_protection_enabled    = var.deletion_protection_enabled
  kms_key_arn                    = var.kms_key_arn
  log_retention_in_days          = var.log_retention_in_days
  reserved_concurrent_executions = var.reserved_concurrent_executions
  alarm_actions                  = var.alarm_actions
}
