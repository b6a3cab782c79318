resource "aws_lambda_event_source_mapping" "this" {
  event_source_arn = var.event_source_arn
  function_name    = var.function_name
  enabled          = var.enabled

  # LATEST: a new mapping starts with new writes; the events already stored reach the
  # projections through the replay script, not through 24 hours of stream backlog.
  starting_position = var.starting_position

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = var.parallelization_factor

  # One bad record fails only itself: the function reports it and the rest of the batch is checkpointed.
  function_response_types = ["ReportBatchItemFailures"]
  # An error of the whole invocation (timeout, crash) splits the batch to isolate the poison record.
  bisect_batch_on_function_error = true
  # A record that keeps failing is given up after this many retries instead of blocking its shard forever.
  maximum_retry_attempts = var.maximum_retry_attempts
  # A record older than this is given up, so a shard never falls further behind than this.
  maximum_record_age_in_seconds = var.maximum_record_age_in_seconds

  destination_config {
    # Records given up on are described here (shard, sequence numbers) so they can be re-driven.
    on_failure {
      destination_arn = var.on_failure_destination_arn
    }
  }
}
