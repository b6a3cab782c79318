resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  description   = var.description
  protocol_type = "HTTP"

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "this" {
  for_each = var.integrations

  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = each.value.invoke_arn
  payload_format_version = "2.0"
  # Answers 504 rather than holding the client when the function hangs.
  timeout_milliseconds = var.integration_timeout_milliseconds
}

# Every route needs a valid token of the issuer: no request reaches a function
# unauthenticated (docs/security.md).
resource "aws_apigatewayv2_authorizer" "this" {
  api_id           = aws_apigatewayv2_api.this.id
  name             = "${var.name}-jwt"
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = var.jwt_issuer
    audience = var.jwt_audience
  }
}

resource "aws_apigatewayv2_route" "this" {
  for_each = var.routes

  api_id    = aws_apigatewayv2_api.this.id
  route_key = each.value.route_key
  target    = "integrations/${aws_apigatewayv2_integration.this[each.value.integration].id}"

  authorization_type = "JWT"
  authorizer_id      = aws_apigatewayv2_authorizer.this.id
  # A token must hold at least one of these; none listed: any valid token.
  authorization_scopes = length(each.value.authorization_scopes) > 0 ? each.value.authorization_scopes : null
}

resource "aws_cloudwatch_log_group" "access_logs" {
  #checkov:skip=CKV_AWS_338:Retention is each environment's choice (log_retention_in_days): prod keeps a year, dev and local far less.
  name              = "/aws/apigateway/${var.name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_apigatewayv2_stage" "this" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  # Caps the request rate so a runaway client cannot exhaust the functions' concurrency.
  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  # Routes with limits of their own (the writes): a flood on one cannot use the whole stage.
  dynamic "route_settings" {
    for_each = { for key, route in var.routes : route.route_key => route.throttling if route.throttling != null }
    content {
      route_key              = route_settings.key
      throttling_burst_limit = route_settings.value.burst_limit
      throttling_rate_limit  = route_settings.value.rate_limit
    }
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access_logs.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      sourceIp           = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      routeKey           = "$context.routeKey"
      path               = "$context.path"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationLatency = "$context.integrationLatency"
      integrationError   = "$context.integrationErrorMessage"
      # Who called (never the token itself, a header or a body: docs/security.md).
      principal       = "$context.authorizer.claims.sub"
      clientId        = "$context.authorizer.claims.client_id"
      authorizerError = "$context.authorizer.error"
    })
  }

  tags = var.tags

  # A route's settings can only name a route that exists.
  depends_on = [aws_apigatewayv2_route.this]
}

resource "aws_lambda_permission" "this" {
  for_each = var.routes

  statement_id  = "AllowHttpApi-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = var.integrations[each.value.integration].function_name
  principal     = "apigateway.amazonaws.com"
  # Only this route of this API may invoke the function, in any stage.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/${each.value.route_key == "$default" ? "$default" : replace(each.value.route_key, " ", "")}"
}
