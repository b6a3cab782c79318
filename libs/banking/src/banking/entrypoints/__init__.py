"""What the Lambda shells share: settings from the environment, wiring, and the HTTP
conventions (request parsing, error format)."""
