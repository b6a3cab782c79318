variable "endpoint_url" {
  description = "URL of the local AWS emulator (a moto server) that every service endpoint points at."
  type        = string
  default     = "http://127.0.0.1:4566"
}

variable "region" {
  description = "Region the emulator is addressed as."
  type        = string
  default     = "us-east-1"
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

variable "create_async_event_configs" {
  description = "Whether to declare the async-invocation configs of dispatcher and projectors; off by default because moto 5.1 cannot return them in a form the provider decodes."
  type        = bool
  default     = false
}

variable "jwt_issuer" {
  description = "Issuer URL of the tokens the HTTP API accepts: the local issuer (scripts/local/issuer.py), whose URL `make up` passes."
  type        = string
  default     = "http://127.0.0.1:8081"
}

variable "jwt_audience" {
  description = "Audiences the HTTP API accepts."
  type        = list(string)
  default     = ["ledger-local"]
}

variable "live_stream_enabled" {
  description = "Whether the fanout reads the events table's stream; the replay benchmark switches it off to seed history the live path never saw."
  type        = bool
  default     = true
}
