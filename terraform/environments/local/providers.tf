# Every service the stack uses goes to the local emulator (moto server) at var.endpoint_url.
provider "aws" {
  #checkov:skip=CKV_AWS_41:These are the emulator's dummy credentials, not an AWS key.
  region     = var.region
  access_key = "test"
  secret_key = "test"

  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    apigatewayv2 = var.endpoint_url
    cloudwatch   = var.endpoint_url
    dynamodb     = var.endpoint_url
    events       = var.endpoint_url
    iam          = var.endpoint_url
    kms          = var.endpoint_url
    lambda       = var.endpoint_url
    logs         = var.endpoint_url
    scheduler    = var.endpoint_url
    sns          = var.endpoint_url
    sqs          = var.endpoint_url
    sts          = var.endpoint_url
  }
}
