terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # State stays on this machine: the emulator it describes lives and dies here too.
  backend "local" {}
}
