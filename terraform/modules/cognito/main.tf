# The identity provider of one environment: users (end users of the accounts) and the
# back-office systems, each kind with its own app client; tokens for the HTTP API's
# JWT authorizer (docs/security.md).

resource "aws_cognito_user_pool" "this" {
  name = var.name

  # Customers do not sign themselves up: the bank opens their accounts.
  admin_create_user_config {
    allow_admin_create_user_only = true
  }

  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = var.mfa_configuration

  software_token_mfa_configuration {
    enabled = true
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  # Puts the accounts a user owns into the access token's ledger:accounts claim.
  dynamic "lambda_config" {
    for_each = var.pre_token_generation_lambda_arn == null ? [] : [var.pre_token_generation_lambda_arn]
    content {
      pre_token_generation_config {
        lambda_arn     = lambda_config.value
        lambda_version = "V2_0"
      }
    }
  }

  deletion_protection = var.deletion_protection ? "ACTIVE" : "INACTIVE"

  tags = var.tags
}

# The hosted token endpoint (/oauth2/token), where back-office clients get their tokens.
resource "aws_cognito_user_pool_domain" "this" {
  domain       = var.domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id
}

resource "aws_cognito_resource_server" "this" {
  identifier   = "ledger"
  name         = "${var.name}-api"
  user_pool_id = aws_cognito_user_pool.this.id

  scope {
    scope_name        = "transactions.write"
    scope_description = "Record credits, debits and transfers on any account."
  }

  scope {
    scope_name        = "accounts.read"
    scope_description = "Read any account, its balance, events and statements, any transfer, and any owner's accounts."
  }

  scope {
    scope_name        = "accounts.manage"
    scope_description = "Open accounts, freeze, unfreeze and close them, and change their overdraft limit."
  }
}

# End users: the authorization-code flow with PKCE from a public client (no secret);
# their tokens carry no ledger scope, so they read only the accounts they own.
resource "aws_cognito_user_pool_client" "end_users" {
  name         = "${var.name}-end-users"
  user_pool_id = aws_cognito_user_pool.this.id

  generate_secret                      = false
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email"]
  callback_urls                        = var.callback_urls
  logout_urls                          = var.logout_urls
  supported_identity_providers         = ["COGNITO"]
  explicit_auth_flows                  = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  # A user may change only harmless profile attributes, never her e-mail (her sign-in
  # name) or a custom attribute a token trigger could turn into access.
  read_attributes  = ["email", "email_verified", "name", "locale", "zoneinfo"]
  write_attributes = ["name", "locale", "zoneinfo"]

  # No hint whether an e-mail address has an account; revoked refresh tokens stop working.
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true

  access_token_validity  = var.access_token_validity_minutes
  id_token_validity      = var.access_token_validity_minutes
  refresh_token_validity = 30

  token_validity_units {
    access_token  = "minutes"
    id_token      = "minutes"
    refresh_token = "days"
  }
}

# Back-office systems: the client-credentials flow, one client per system, each with only
# the scopes it needs.
resource "aws_cognito_user_pool_client" "back_office" {
  for_each = var.back_office_clients

  name         = "${var.name}-${each.key}"
  user_pool_id = aws_cognito_user_pool.this.id

  generate_secret                      = true
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["client_credentials"]
  allowed_oauth_scopes                 = [for scope in each.value : "${aws_cognito_resource_server.this.identifier}/${scope}"]
  supported_identity_providers         = ["COGNITO"]
  # Machines use client credentials only: no user sign-in flow (SRP, password) at all.
  # (Left empty, Cognito would allow ALLOW_USER_SRP_AUTH and ALLOW_CUSTOM_AUTH.)
  explicit_auth_flows     = ["ALLOW_REFRESH_TOKEN_AUTH"]
  enable_token_revocation = true

  access_token_validity = var.access_token_validity_minutes

  token_validity_units {
    access_token = "minutes"
  }
}
