module "ledger" {
  source = "../../modules/ledger"

  environment = "local"
  dist_dir    = coalesce(var.dist_dir, "${path.root}/../../../dist")

  overdraft_limit = var.overdraft_limit
  legacy_currency = var.legacy_currency
  ledger_timezone = var.ledger_timezone
  jwt_issuer      = var.jwt_issuer
  jwt_audience    = var.jwt_audience

  log_retention_in_days = 1
  # Every invocation logs each hop: the console follows an event's journey through them,
  # and local logs cost nothing.
  log_sample_rate     = 1
  live_stream_enabled = var.live_stream_enabled

  # moto 5.1 answers PutFunctionEventInvokeConfig with a LastModified the provider cannot
  # decode; the local runtime takes the same settings from the async_invocation output.
  create_async_event_configs = var.create_async_event_configs

  # The alarm topic and its key, as prod has them (no subscriber: nothing is sent here).
  alarm_topic_enabled = true
}
