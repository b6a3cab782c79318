output "http_api_id" {
  description = "Identifier of the API."
  value       = aws_apigatewayv2_api.this.id
}

output "http_api_endpoint" {
  description = "Base URL of the API (its $default stage)."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "http_api_execution_arn" {
  description = "Execution ARN of the API, the prefix of its invoke permissions."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "http_api_routes" {
  description = "Route key of each route, by its key in var.routes."
  value       = { for k, r in aws_apigatewayv2_route.this : k => r.route_key }
}

output "http_api_access_log_group_name" {
  description = "Name of the access-log group of the stage."
  value       = aws_cloudwatch_log_group.access_logs.name
}

output "http_api_authorizer_id" {
  description = "Identifier of the JWT authorizer every route uses."
  value       = aws_apigatewayv2_authorizer.this.id
}
