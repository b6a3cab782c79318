variable "name" {
  description = "Name of the user pool (ledger-<environment>); its clients are named after it."
  type        = string
}

variable "domain_prefix" {
  description = "Prefix of the pool's hosted domain (<prefix>.auth.<region>.amazoncognito.com), unique in the region across all AWS accounts."
  type        = string
}

variable "callback_urls" {
  description = "Where the end-user client may send users back after signing in (HTTPS, except localhost)."
  type        = list(string)
}

variable "logout_urls" {
  description = "Where the end-user client may send users after signing out."
  type        = list(string)
  default     = []
}

variable "back_office_clients" {
  description = "Client-credentials clients for back-office systems, by name, with the scopes of the ledger resource server each may have: transactions.write, accounts.read, accounts.manage."
  type        = map(list(string))
  default = {
    payments   = ["transactions.write"]
    support    = ["accounts.read"]
    onboarding = ["accounts.manage"]
  }

  validation {
    condition     = alltrue([for scopes in values(var.back_office_clients) : length(setsubtract(scopes, ["transactions.write", "accounts.read", "accounts.manage"])) == 0])
    error_message = "The ledger's scopes are transactions.write, accounts.read and accounts.manage."
  }
}

variable "access_token_validity_minutes" {
  description = "How long an access (and ID) token is valid: a stolen token's lifetime."
  type        = number
  default     = 60
}

variable "mfa_configuration" {
  description = "Multi-factor authentication of end users (people): ON requires it at every sign-in; OPTIONAL lets each user choose (for a test pool only)."
  type        = string
  default     = "ON"

  validation {
    condition     = contains(["ON", "OPTIONAL"], var.mfa_configuration)
    error_message = "People sign in with MFA: ON (or OPTIONAL for a test pool), never OFF."
  }
}

variable "pre_token_generation_lambda_arn" {
  description = "A pre-token-generation trigger (event version V2_0) that adds the ledger:accounts claim to users' access tokens, or null. The repository ships none (docs/security.md): without one, a user reads only the account named by her sub."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Whether the user pool refuses to be deleted."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for the user pool."
  type        = map(string)
  default     = {}
}
