variable "name" {
  description = "Name of the CloudWatch dashboard."
  type        = string
}

variable "widgets" {
  description = "Dashboard widgets, as CloudWatch's dashboard body schema defines them."
  type        = any
}
