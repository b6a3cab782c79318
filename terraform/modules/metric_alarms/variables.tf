variable "alarms" {
  description = "CloudWatch metric alarms by Terraform key."
  type = map(object({
    name                = string
    description         = string
    namespace           = string
    metric_name         = string
    dimensions          = map(string)
    statistic           = string
    period              = number
    evaluation_periods  = number
    threshold           = number
    comparison_operator = string
  }))
}

variable "alarm_actions" {
  description = "ARNs notified when an alarm fires and when it clears (e.g. an SNS topic); empty to only record the state."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for the alarms."
  type        = map(string)
  default     = {}
}
