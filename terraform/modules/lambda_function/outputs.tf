output "lambda_function_name" {
  description = "Name of the function, available once its role's policy is in place (so triggers never see a function that cannot yet do its work)."
  value       = aws_lambda_function.this.function_name
  depends_on  = [aws_iam_role_policy.lambda]
}

output "lambda_function_arn" {
  description = "ARN of the function, available once its role's policy is in place (a stream mapping is refused until the role can read the stream)."
  value       = aws_lambda_function.this.arn
  depends_on  = [aws_iam_role_policy.lambda]
}

output "lambda_function_invoke_arn" {
  description = "ARN API Gateway uses to invoke the function."
  value       = aws_lambda_function.this.invoke_arn
  depends_on  = [aws_iam_role_policy.lambda]
}

output "lambda_role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.lambda.arn
}

output "lambda_role_name" {
  description = "Name of the function's execution role."
  value       = aws_iam_role.lambda.name
}

output "lambda_cloudwatch_log_group_name" {
  description = "Name of the function's log group."
  value       = aws_cloudwatch_log_group.lambda.name
}
