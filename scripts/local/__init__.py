"""The local runtime: the whole Ledger on one machine, on a moto server, without AWS.

moto emulates the AWS control and storage APIs; this package does what moto cannot
(run the Lambda zips, serve the HTTP API, poll the table's stream, deliver bus events
to Lambda targets), reading the wiring from what Terraform applied to moto.
See docs/local-runtime.md.
"""
