variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "dist_dir" {
  description = "Directory of the Lambda zips, or null for the repository's dist/ (built by make package)."
  type        = string
  default     = null
}

variable "overdraft_limit" {
  description = "Overdraft limit of the accounts whose history predates accounts (OVERDRAFT_LIMIT), a decimal string; opened accounts carry their own."
  type        = string
  default     = "0.00"
}

variable "legacy_currency" {
  description = "ISO 4217 code of the accounts whose history predates accounts (LEGACY_CURRENCY; docs/events.md)."
  type        = string
  default     = "EUR"
}

variable "ledger_timezone" {
  description = "IANA time zone of the calendar months of the current-month balance (LEDGER_TIMEZONE)."
  type        = string
  default     = "UTC"
}

variable "deletion_protection_enabled" {
  description = "Whether the tables refuse to be deleted."
  type        = bool
  default     = false
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for tables, function environments and log groups, or null for AWS-managed keys."
  type        = string
  default     = null
}

variable "log_retention_in_days" {
  description = "How long function and access logs are kept."
  type        = number
  default     = 30
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for functions, by Lambda directory name."
  type        = map(number)
  default     = {}
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic) notified when an alarm fires or clears."
  type        = list(string)
  default     = []
}

variable "jwt_issuer" {
  description = "Issuer URL of the tokens the HTTP API accepts, or null for this environment's own Cognito user pool (modules/cognito)."
  type        = string
  default     = null
}

variable "jwt_audience" {
  description = "Audiences (or client ids) the HTTP API accepts, with jwt_issuer; with the Cognito pool, its app clients."
  type        = list(string)
  default     = []
}

variable "cognito_domain_prefix" {
  description = "Prefix of the Cognito pool's hosted domain, unique in the region across AWS accounts (change it for your organisation)."
  type        = string
  default     = "ledger-dev"
}

variable "cognito_callback_urls" {
  description = "Where the end users' app may be sent back after sign-in."
  type        = list(string)
  default     = ["https://localhost:3000/callback"]
}

variable "cognito_back_office_clients" {
  description = "Client-credentials clients for back-office systems, by name, with their scopes (transactions.write, accounts.read, accounts.manage)."
  type        = map(list(string))
  default = {
    payments   = ["transactions.write"]
    support    = ["accounts.read"]
    onboarding = ["accounts.manage"]
  }
}
