variable "name" {
  description = "Name of the API."
  type        = string
}

variable "description" {
  description = "What the API serves."
  type        = string
  default     = ""
}

variable "integrations" {
  description = "Lambda proxy integrations (payload format 2.0), by a key the routes refer to."
  type = map(object({
    function_name = string
    invoke_arn    = string
  }))
}

variable "routes" {
  description = "Routes by a key made of letters, digits, - and _: the route key (\"POST /path\" or \"$default\"), the key of the integration serving it, the OAuth scopes of which a token must hold one (none: any valid token), and optional throttling of its own (none: the stage's)."
  type = map(object({
    route_key            = string
    integration          = string
    authorization_scopes = optional(list(string), [])
    throttling = optional(object({
      burst_limit = number
      rate_limit  = number
    }))
  }))

  validation {
    condition     = alltrue([for k in keys(var.routes) : can(regex("^[A-Za-z0-9_-]+$", k))])
    error_message = "Route keys may hold only letters, digits, - and _ (they name permission statements)."
  }
}

variable "jwt_issuer" {
  description = "Issuer URL the JWT authorizer trusts (the token's iss; its keys are discovered at <issuer>/.well-known/openid-configuration), e.g. https://cognito-idp.<region>.amazonaws.com/<user pool id>."
  type        = string
}

variable "jwt_audience" {
  description = "Audiences the JWT authorizer accepts: a token's aud, or its client_id when it has no aud (Cognito access tokens)."
  type        = list(string)

  validation {
    condition     = length(var.jwt_audience) > 0
    error_message = "At least one audience is needed: a token for any audience must not pass."
  }
}

variable "integration_timeout_milliseconds" {
  description = "How long API Gateway waits for the function (50 to 30000 ms): longer than the function's timeout, so the client hears how its request ended."
  type        = number
  default     = 29000

  validation {
    condition     = var.integration_timeout_milliseconds >= 50 && var.integration_timeout_milliseconds <= 30000
    error_message = "HTTP API integrations time out after 50 to 30000 ms."
  }
}

variable "throttling_burst_limit" {
  description = "Requests the stage accepts in a burst."
  type        = number
  default     = 200
}

variable "throttling_rate_limit" {
  description = "Steady-state requests per second the stage accepts."
  type        = number
  default     = 100
}

variable "log_retention_in_days" {
  description = "How long access logs are kept."
  type        = number
  default     = 30
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key for the access-log group, or null for CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
