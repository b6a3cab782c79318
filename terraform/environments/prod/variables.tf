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
  default     = true
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for tables, function environments and log groups, or null for AWS-managed keys."
  type        = string
  default     = null
}

variable "log_retention_in_days" {
  description = "How long function and access logs are kept."
  type        = number
  default     = 365
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for functions, by Lambda directory name; commands must have some, so a flood of reads (or of anything else in the account) cannot starve writes."
  type        = map(number)
  default     = { commands = 100 }

  validation {
    condition     = lookup(var.reserved_concurrent_executions, "commands", 0) > 0
    error_message = "Reserve concurrency for commands (e.g. { commands = 100 }): without it reads can starve writes."
  }
}

variable "alarm_actions" {
  description = "ARNs (e.g. an SNS topic, a pager's) notified when an alarm fires or clears; this or alarm_email_addresses must name someone."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.alarm_actions) + length(var.alarm_email_addresses) > 0
    error_message = "Prod alarms must notify someone: set alarm_actions or alarm_email_addresses."
  }
}

variable "alarm_email_addresses" {
  description = "E-mail addresses subscribed to the environment's own alarm topic (encrypted with a key CloudWatch may use), created when any is given."
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
  default     = "ledger-prod"
}

variable "cognito_callback_urls" {
  description = "Where the end users' app may be sent back after sign-in (HTTPS): no default, a prod pool must not send codes to a developer's machine. Needed unless jwt_issuer names another issuer."
  type        = list(string)
  default     = null

  validation {
    condition     = var.jwt_issuer != null || try(length(var.cognito_callback_urls) > 0, false)
    error_message = "Set cognito_callback_urls to the end users' app (HTTPS), or jwt_issuer to another issuer."
  }

  validation {
    condition     = alltrue([for url in coalesce(var.cognito_callback_urls, []) : startswith(url, "https://")])
    error_message = "Callback URLs of prod must be HTTPS."
  }
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
