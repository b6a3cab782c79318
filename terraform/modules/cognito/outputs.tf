output "cognito_user_pool_id" {
  description = "Identifier of the user pool."
  value       = aws_cognito_user_pool.this.id
}

output "cognito_issuer" {
  description = "Issuer URL of the pool's tokens: the jwt_issuer of the HTTP API."
  value       = "https://${aws_cognito_user_pool.this.endpoint}"
}

output "cognito_client_ids" {
  description = "Every app client's id (end users' first): the jwt_audience of the HTTP API, as Cognito access tokens carry client_id instead of aud."
  value       = concat([aws_cognito_user_pool_client.end_users.id], [for client in aws_cognito_user_pool_client.back_office : client.id])
}

output "cognito_end_user_client_id" {
  description = "Identifier of the end users' app client."
  value       = aws_cognito_user_pool_client.end_users.id
}

output "cognito_back_office_client_ids" {
  description = "Identifier of each back-office client, by name (their secrets stay in Cognito: aws cognito-idp describe-user-pool-client)."
  value       = { for name, client in aws_cognito_user_pool_client.back_office : name => client.id }
}

output "cognito_token_endpoint" {
  description = "The OAuth 2.0 token endpoint of the pool's domain."
  value       = "https://${aws_cognito_user_pool_domain.this.domain}.auth.${split(":", aws_cognito_user_pool.this.arn)[3]}.amazoncognito.com/oauth2/token"
}
